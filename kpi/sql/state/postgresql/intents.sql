-- intents on PostgreSQL: the statements of kpi/sql/state/intents.sql whose SQLite text PostgreSQL does not
-- run (rowid: here the identity column seq, the order intents were recorded in).

-- name: pending
-- one row per pending intent, oldest first.
SELECT intent_id, kind, user_name, keys FROM intents WHERE state = 'cho' ORDER BY created_at, seq;
