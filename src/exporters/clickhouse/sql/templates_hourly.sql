-- otelhouse: log counts per hour, service, severity and template, filled from otel_logs by the
-- materialised view below (every insert into otel_logs adds its counts here).
CREATE TABLE IF NOT EXISTS {database}.{templates_table}_hourly{on_cluster}
(
    `Hour` DateTime,
    `ServiceName` LowCardinality(String),
    `SeverityText` LowCardinality(String),
    `TemplateId` UInt64,
    `Count` UInt64
)
ENGINE = SummingMergeTree(Count)
PARTITION BY toYYYYMM(Hour)
ORDER BY (Hour, ServiceName, SeverityText, TemplateId)
{ttl_hourly}
SETTINGS non_replicated_deduplication_window = 10000
