-- account_passwords: per account, whether its password must be changed at the next login and the
-- previous password's hash (kpi.admin.accounts).

-- name: must_change
-- at most one row: whether the account must change its password.
-- Parameters: :user_name
SELECT must_change FROM account_passwords WHERE user_name = :user_name;

-- name: previous_hash
-- at most one row: the account's previous password's bcrypt hash (never reused).
-- Parameters: :user_name
SELECT previous_hash FROM account_passwords WHERE user_name = :user_name;

-- name: set
-- the account's flag written, with the previous hash (an empty one keeps the former), who and when.
-- Parameters: :user_name, :must_change (0 or 1), :previous_hash, :now, :by
INSERT INTO account_passwords VALUES (:user_name, :must_change, :previous_hash, :now, :by)
ON CONFLICT (user_name) DO UPDATE SET must_change = excluded.must_change,
    previous_hash = coalesce(excluded.previous_hash, account_passwords.previous_hash),
    changed_at = excluded.changed_at, changed_by = excluded.changed_by;

-- name: first
-- a new account's first password: to be changed at the first login.
-- Parameters: :user_name, :now, :by
INSERT OR REPLACE INTO account_passwords VALUES (:user_name, 1, NULL, :now, :by);

-- name: to_change
-- one row per account whose first (or reset) password is still to be changed.
SELECT user_name FROM account_passwords WHERE must_change = 1;
