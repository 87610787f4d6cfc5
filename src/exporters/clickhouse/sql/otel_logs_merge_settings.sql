-- otelhouse: merges of the logs table that rewrite each row fewer times. The merge selector's
-- base (5 by default) sets how many parts of a size gather before they are merged: at 10, parts
-- are merged about half as many times over their life, and each merge also rebuilds the text and
-- bloom indexes. Measured on chDB, 2,000,000 rows in inserts of 50,000: 29.6 µs of CPU a row with
-- the default, 19.9 with 10 (docs/decisions.md, D79). Run at every start with create_schema; a
-- server that does not know the setting keeps its default (the exporter logs a warning).
ALTER TABLE {database}.{table}{on_cluster}
    MODIFY SETTING merge_selector_base = 10
