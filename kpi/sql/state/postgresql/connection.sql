-- The state store's connection on PostgreSQL (kpi.store.state_pg.PgStore): settings each new connection
-- takes, the lock that serialises writers, the schema's version, the identities set after a copy.
-- PostgreSQL's own (SQLite's are kpi/sql/state/connection.sql). Advisory lock keys: 2_700_001 the
-- writers' lock, 2_700_002 the schema's upgrade, 2_700_003 the analytics file's writers across machines.

-- name: settings
-- a writer waits up to 10 s for another writer's lock (SQLite's busy_timeout), a statement runs at most 60 s
SELECT set_config('lock_timeout', '10s', false), set_config('statement_timeout', '60s', false);

-- name: writer
-- the writers' lock, held until the transaction ends: one writer at a time across every process and
-- machine (SQLite's BEGIN IMMEDIATE); readers never wait for it
SELECT pg_advisory_xact_lock(2700001);

-- name: upgrade_lock
-- the schema's upgrade lock (held by the session until released): two processes never upgrade at once
SELECT pg_advisory_lock(2700002);

-- name: upgrade_unlock
-- the schema's upgrade lock released
SELECT pg_advisory_unlock(2700002);

-- name: version_table
-- the table of the schema versions applied (one row per version, when)
CREATE TABLE IF NOT EXISTS kpi_schema_version (version INTEGER PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL);

-- name: version
-- one row: the newest schema version applied (0 for a new database)
SELECT coalesce(max(version), 0) FROM kpi_schema_version;

-- name: version_set
-- one schema version recorded as applied.
-- Parameters: :version, :now
INSERT INTO kpi_schema_version VALUES (:version, :now) ON CONFLICT (version) DO NOTHING;

-- name: tables
-- one row per table of the store's schema (the current one)
SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema();

-- name: audit_identity
-- after rows were copied in with their ids: the next audit id follows the largest
SELECT setval(pg_get_serial_sequence('audit', 'audit_id'), coalesce(max(audit_id), 0) + 1, false) FROM audit;

-- name: evidence_identity
-- after rows were copied in with their ids: the next evidence id follows the largest
SELECT setval(pg_get_serial_sequence('assessment_evidence', 'evidence_id'), coalesce(max(evidence_id), 0) + 1,
              false) FROM assessment_evidence;

-- name: analytics_wait
-- how long a writer of the analytics file waits for another machine's writer (an import may take minutes)
SELECT set_config('lock_timeout', '600s', false), set_config('statement_timeout', '0', false);

-- name: analytics_lock
-- the analytics file's writers' lock (held by the session until released, or until the session ends
-- with its process): one writer of the analytics file at a time across every machine (kpi.store.db)
SELECT pg_advisory_lock(2700003);

-- name: analytics_unlock
-- the analytics file's writers' lock released
SELECT pg_advisory_unlock(2700003);
