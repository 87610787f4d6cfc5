-- otelhouse: the lineage edges each log_templates row carries in ReplacedIds.
CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.{templates_table}_lineage_mv{on_cluster}
TO {database}.{templates_table}_lineage
AS SELECT
    arrayJoin(ReplacedIds) AS Id,
    TemplateId AS ParentId,
    now64(9) AS Version
FROM {database}.{templates_table}
WHERE notEmpty(ReplacedIds)
