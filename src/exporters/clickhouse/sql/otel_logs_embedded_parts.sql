-- otelhouse, embedded storage only: parts of the logs table stay in the compact format (all
-- columns in one file) until ClickHouse estimates them at 128 MiB, instead of 10 MiB. A part of
-- 50,000 records is then written as a few files instead of one or more per column and index, and
-- so are the first merges of such parts, which are most of the merges. Measured on chDB with the
-- shipped config (bench:e2e, docs/decisions.md, D83): chDB's threads 9.6–10.5 → 8.0–8.6 µs a log.
-- Larger parts are wide, as usual. A ClickHouse server keeps its own choice.
ALTER TABLE {database}.{table}
    MODIFY SETTING min_bytes_for_wide_part = 134217728
