-- otelhouse: adds the Source column to a log_templates table created before it existed.
ALTER TABLE {database}.{templates_table}{on_cluster}
    ADD COLUMN IF NOT EXISTS `Source` SimpleAggregateFunction(anyLast, LowCardinality(String)) AFTER `ReplacedIds`
