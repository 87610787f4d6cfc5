-- otelhouse: the log templates the templates processor mined, one row per template after merges.
-- Each export adds one row per template seen in its batch; the SimpleAggregateFunction columns
-- combine those rows in the background (query with GROUP BY TemplateId, or FINAL, for exact values).
--   MaxSeverityText  (highest SeverityNumber, its SeverityText)
--   ReplacedIds      templates this one replaced when it generalised or an LLM's template covered
--                    them (records stored earlier keep those ids: follow them to older rows)
--   Source           'miner' (mined online) or 'llm' (proposed by an LLM and validated)
CREATE TABLE IF NOT EXISTS {database}.{templates_table}{on_cluster}
(
    `TemplateId` UInt64,
    `Text` SimpleAggregateFunction(anyLast, String),
    `FirstSeen` SimpleAggregateFunction(min, DateTime64(9)),
    `LastSeen` SimpleAggregateFunction(max, DateTime64(9)),
    `Count` SimpleAggregateFunction(sum, UInt64),
    `Services` SimpleAggregateFunction(groupUniqArrayArray, Array(String)),
    `MaxSeverityNumber` SimpleAggregateFunction(max, UInt8),
    `MaxSeverityText` SimpleAggregateFunction(max, Tuple(UInt8, String)),
    `Sample` SimpleAggregateFunction(any, String),
    `ReplacedIds` SimpleAggregateFunction(groupUniqArrayArray, Array(UInt64)),
    `Source` SimpleAggregateFunction(anyLast, LowCardinality(String))
)
ENGINE = AggregatingMergeTree
ORDER BY TemplateId
SETTINGS non_replicated_deduplication_window = 10000
