-- otelhouse: template lineage, one edge per template that was replaced: Id was generalised into,
-- folded into, or taken over by ParentId (always a template that covers it). Filled from
-- log_templates.ReplacedIds by log_templates_lineage_mv; the newest edge of an Id wins. Followed to
-- its root, every TemplateId ever stored leads to exactly one current template.
CREATE TABLE IF NOT EXISTS {database}.{templates_table}_lineage{on_cluster}
(
    `Id` UInt64,
    `ParentId` UInt64,
    `Version` DateTime64(9)
)
ENGINE = ReplacingMergeTree(Version)
ORDER BY Id
