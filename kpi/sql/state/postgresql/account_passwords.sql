-- account_passwords on PostgreSQL: the statements of kpi/sql/state/account_passwords.sql whose SQLite text
-- PostgreSQL does not run (INSERT OR REPLACE).

-- name: first
-- a new account's first password: to be changed at the first login (any former row replaced).
-- Parameters: :user_name, :now, :by
INSERT INTO account_passwords VALUES (:user_name, 1, NULL, :now, :by)
ON CONFLICT (user_name) DO UPDATE SET must_change = 1, previous_hash = NULL, changed_at = excluded.changed_at,
    changed_by = excluded.changed_by;
