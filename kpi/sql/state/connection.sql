-- The state store's connection and file: settings each new connection takes, the schema's version
-- and tables, the WAL written back. Statements of kpi.store.state.Store (no data rows).

-- name: wal
-- the connection's journal: WAL (many processes read and write; readers never wait for a writer)
PRAGMA journal_mode=WAL;

-- name: synchronous
-- durable across a process crash; WAL keeps the file consistent
PRAGMA synchronous=NORMAL;

-- name: busy_timeout
-- a writer waits up to 10 s for another writer's transaction
PRAGMA busy_timeout=10000;

-- name: user_version
-- one row: the schema version the file was last upgraded to (set by schema.sql's last line)
PRAGMA user_version;

-- name: tables
-- one row per table of the file
SELECT name FROM sqlite_master WHERE type = 'table';

-- name: checkpoint
-- the WAL's pages written into the main file (a copy of the file alone then holds everything)
PRAGMA wal_checkpoint(TRUNCATE);
