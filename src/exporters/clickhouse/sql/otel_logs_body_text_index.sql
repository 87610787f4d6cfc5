-- otelhouse: a text (inverted) index on lower(Body) for word search (hasToken(lower(Body), …)),
-- GA since ClickHouse 26.2. It lists the rows holding each word, so a rare word's rows are found
-- without reading Body, which the tokenbf index above cannot do for a word spread over every
-- granule. It replaces that index where the server takes it; a server that refuses it keeps
-- tokenbf (the exporter logs a warning). Parts written before it was added are read in full by a
-- word search until they merge; ALTER TABLE … MATERIALIZE INDEX idx_body_text indexes them now.
ALTER TABLE {database}.{table}{on_cluster}
    ADD INDEX IF NOT EXISTS idx_body_text lower(Body) TYPE text(tokenizer = splitByNonAlpha);
ALTER TABLE {database}.{table}{on_cluster}
    DROP INDEX IF EXISTS idx_lower_body
