-- kpi.store.db: the meta table (key → value) every writer keeps: the schema version, the data version
-- that caches are keyed by, whether the file is the sample, the schema's fingerprint.

-- @statement defaults
-- Writes the first meta rows of a new file (a row already there is kept).
-- parameters: $schema_version (kpi.store.db.SCHEMA_VERSION)
INSERT OR IGNORE INTO meta VALUES ('schema_version', $schema_version), ('data_version', '0'), ('is_sample', 'false')

-- @statement value
-- Reads one meta value (no row: the key is not set).
-- parameters: $key
SELECT value FROM meta WHERE key = $key

-- @statement set
-- Writes one meta key (replacing its value).
-- parameters: key, value
INSERT OR REPLACE INTO meta VALUES (?, ?)

-- @statement bump_data_version
-- Writes data_version + 1 (caches keyed by it are refreshed).
-- parameters: none
UPDATE meta SET value = CAST(CAST(value AS BIGINT) + 1 AS VARCHAR) WHERE key = 'data_version'

-- @statement follow_index
-- Writes index_version = the new data_version when the stored index was current before this write
-- ($old: the data_version before it) or was rescored by it ('pending'); otherwise it stays behind.
-- parameters: $old
UPDATE meta SET value = (SELECT value FROM meta WHERE key = 'data_version')
WHERE key = 'index_version' AND value IN ('pending', $old)
