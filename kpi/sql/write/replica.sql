-- kpi.store.db: the content fingerprint of the analytics file (issue 27, item 2): what two machines
-- compare to prove they hold the same figures. Reads only; the writers store its result in meta.

-- @statement tables
-- Reads one row per table of the file, in name order: its columns with their types (the schema is
-- part of the fingerprint) and its DOUBLE/FLOAT columns (compared rounded to 6 decimals: a sum run in
-- parallel may differ in its last bit from one run to the next).
-- parameters: none
SELECT t.table_name,
       string_agg(c.column_name || ' ' || c.data_type, ', ' ORDER BY c.column_index) AS columns,
       coalesce(list(c.column_name ORDER BY c.column_index)
                FILTER (WHERE c.data_type IN ('DOUBLE', 'FLOAT')), []) AS doubles
FROM duckdb_tables() t
JOIN duckdb_columns() c ON c.database_name = t.database_name AND c.schema_name = t.schema_name
                       AND c.table_name = t.table_name
WHERE t.database_name = current_database() AND t.schema_name = current_schema() AND NOT t.temporary
GROUP BY t.table_name
ORDER BY t.table_name

-- @statement digest
-- Reads one row for the table $table: its row count, and the sum and the XOR of its rows' hashes
-- (independent of the rows' order; a row twice counts twice in the sum), its $doubles rounded.
-- parameters: $table, $doubles
SELECT count(*) AS n, coalesce(sum(h::HUGEINT), 0)::VARCHAR AS total, coalesce(bit_xor(h), 0)::VARCHAR AS xored
FROM (
    SELECT hash(*COLUMNS(*)) AS h
    FROM (
        SELECT round(COLUMNS(lambda c: list_contains($doubles, c) OR c = 'kpi_zero'), 6) + 0.0,
               COLUMNS(lambda c: NOT list_contains($doubles, c) AND c <> 'kpi_zero')
        FROM (SELECT 0.0::DOUBLE AS kpi_zero, '' AS kpi_text, * FROM query_table($table))
    )
)

-- @statement digest_meta
-- Reads the same row as digest for the table meta, leaving out the key $skip (where the fingerprint
-- itself is kept).
-- parameters: $skip
SELECT count(*) AS n, coalesce(sum(h::HUGEINT), 0)::VARCHAR AS total, coalesce(bit_xor(h), 0)::VARCHAR AS xored
FROM (SELECT hash('', key, value) AS h FROM meta WHERE key <> $skip)

-- @statement meta
-- Reads every meta row (key, value): the data version, the log seq and the fingerprint a machine holds.
-- parameters: none
SELECT key, value FROM meta

-- @statement quiet
-- Writes nothing: turns off DuckDB's progress bar for this connection (the fingerprint of a national
-- file reads for seconds; the bar would land in the server's log and the CLI's output).
-- parameters: none
SET enable_progress_bar = false

-- @statement forget
-- Deletes the fingerprint a logged write kept in meta, in a write that is not logged (one machine):
-- the content changes without it, so `kpi version` would otherwise call the file altered.
-- parameters: none
DELETE FROM meta WHERE key = 'content_sha256'
