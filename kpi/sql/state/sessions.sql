-- sessions: one row per login session (kpi.admin.auth.Sessions, kpi.admin.accounts).

-- name: open
-- one new row: a session opened at login.
-- Parameters: :session_id (inside the signed cookie), :user_name, :now, :client (address or NULL)
INSERT INTO sessions VALUES (:session_id, :user_name, :now, :now, NULL, NULL, :client);

-- name: get
-- at most one row: the session's user and times.
-- Parameters: :session_id
SELECT user_name, issued_at, last_seen, revoked_at, reason FROM sessions WHERE session_id = :session_id;

-- name: touch
-- the session's last use moved forward (never back).
-- Parameters: :session_id, :now
UPDATE sessions SET last_seen = :now WHERE session_id = :session_id AND last_seen < :now;

-- name: revoke
-- one open session ended (refused from now on).
-- Parameters: :session_id, :now, :reason
UPDATE sessions SET revoked_at = :now, reason = :reason WHERE session_id = :session_id AND revoked_at IS NULL;

-- name: revoke_user
-- every open session of a user ended (rowcount: how many).
-- Parameters: :user_name, :now, :reason
UPDATE sessions SET revoked_at = :now, reason = :reason WHERE user_name = :user_name AND revoked_at IS NULL;

-- name: revoke_others
-- every open session of a user but one ended, after the user's own password change.
-- Parameters: :user_name, :now, :keep (the session making the change; NULL = none kept)
UPDATE sessions SET revoked_at = :now, reason = 'doi_mat_khau'
WHERE user_name = :user_name AND revoked_at IS NULL AND session_id IS DISTINCT FROM :keep;

-- name: recent_users
-- one row per user name with a session used since a moment, most recently used first.
-- Parameters: :since
SELECT user_name, max(last_seen) AS seen FROM sessions WHERE last_seen >= :since
GROUP BY user_name ORDER BY seen DESC;

-- name: forget
-- sessions that ended (revoked or last used) before a moment, dropped.
-- Parameters: :before
DELETE FROM sessions WHERE coalesce(revoked_at, last_seen) < :before;
