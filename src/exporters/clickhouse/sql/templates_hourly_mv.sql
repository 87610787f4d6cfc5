-- otelhouse: keeps {templates_table}_hourly current from otel_logs.
CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.{templates_table}_hourly_mv{on_cluster}
TO {database}.{templates_table}_hourly
AS SELECT
    toStartOfHour(Timestamp) AS Hour,
    ServiceName,
    SeverityText,
    TemplateId,
    count() AS Count
FROM {database}.{table}
GROUP BY Hour, ServiceName, SeverityText, TemplateId
