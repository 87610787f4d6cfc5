-- otelhouse: the hourly counts' current template, as in otel_logs, for "count by template over time".
ALTER TABLE {database}.{templates_table}_hourly{on_cluster}
    ADD COLUMN IF NOT EXISTS `CurrentTemplateId` UInt64 ALIAS if(TemplateId = 0, 0, arrayElement(arrayPushFront(dictGetHierarchy('{database}.{templates_table}_lineage_dict', TemplateId), TemplateId), -1))
