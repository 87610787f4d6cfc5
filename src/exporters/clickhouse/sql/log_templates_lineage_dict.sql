-- otelhouse: the lineage as a hierarchical dictionary: dictGetHierarchy(…, TemplateId) is the path
-- from a stored id to its current template, the last element. Reloaded every 1–10 s.
CREATE DICTIONARY IF NOT EXISTS {database}.{templates_table}_lineage_dict{on_cluster}
(
    `Id` UInt64,
    `ParentId` UInt64 HIERARCHICAL
)
PRIMARY KEY Id
SOURCE(CLICKHOUSE(USER {source_user} PASSWORD {source_password} QUERY 'SELECT Id, argMax(ParentId, Version) AS ParentId FROM {database}.{templates_table}_lineage GROUP BY Id'))
LAYOUT(HASHED())
LIFETIME(MIN 1 MAX 10)
