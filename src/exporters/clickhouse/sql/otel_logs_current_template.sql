-- otelhouse: each row's current template, resolved in ClickHouse through the lineage: GROUP BY
-- CurrentTemplateId counts an event once however its template generalised; Template is its text.
-- ALIAS columns take no space and are not in SELECT *.
ALTER TABLE {database}.{table}{on_cluster}
    ADD COLUMN IF NOT EXISTS `CurrentTemplateId` UInt64 ALIAS if(TemplateId = 0, 0, arrayElement(arrayPushFront(dictGetHierarchy('{database}.{templates_table}_lineage_dict', TemplateId), TemplateId), -1)),
    ADD COLUMN IF NOT EXISTS `Template` String ALIAS dictGetOrDefault('{database}.{templates_table}_text_dict', 'Text', CurrentTemplateId, '')
