-- login_failures: one row per throttled key ('u:<user name>' or 'a:<client address>') (kpi.admin.auth.Throttle).

-- name: get
-- at most one row: the key's failures and the first and last failure's moments.
-- Parameters: :key
SELECT failures, first_at, last_at FROM login_failures WHERE key = :key;

-- name: add
-- one failure counted on the key; a count whose last failure is older than the window starts over.
-- Parameters: :key, :now, :window (seconds)
INSERT INTO login_failures VALUES (:key, 1, :now, :now)
ON CONFLICT (key) DO UPDATE SET
    failures = CASE WHEN :now - login_failures.last_at > :window THEN 1 ELSE login_failures.failures + 1 END,
    first_at = CASE WHEN :now - login_failures.last_at > :window THEN :now ELSE login_failures.first_at END,
    last_at = :now;

-- name: clear
-- the key's count dropped (a right password).
-- Parameters: :key
DELETE FROM login_failures WHERE key = :key;
