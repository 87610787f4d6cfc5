-- otelhouse: template texts by id, for the Template column of otel_logs. Reloaded every 1–10 s.
CREATE DICTIONARY IF NOT EXISTS {database}.{templates_table}_text_dict{on_cluster}
(
    `TemplateId` UInt64,
    `Text` String
)
PRIMARY KEY TemplateId
SOURCE(CLICKHOUSE(USER {source_user} PASSWORD {source_password} QUERY 'SELECT TemplateId, anyLast(Text) AS Text FROM {database}.{templates_table} GROUP BY TemplateId'))
LAYOUT(HASHED())
LIFETIME(MIN 1 MAX 10)
