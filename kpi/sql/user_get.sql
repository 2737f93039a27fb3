-- one row for one user name (any state; names compare case-insensitively, trimmed): for login and
-- session checks. A principal's unit is the own school's unit unless the account names one (their
-- district figures are that unit's).
SELECT u.user_name, u.display_name, u.role, u.school_id,
       CASE WHEN u.role IN ('hieu_truong', 'truong_nhap_lieu') THEN coalesce(u.unit_id, s.unit_id) ELSE u.unit_id END AS unit_id,
       u.password_hash, u.active
FROM users u LEFT JOIN schools s ON s.school_id = u.school_id
WHERE lower(u.user_name) = lower(trim($user_name))
