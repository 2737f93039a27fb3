-- one row per active principal account (user name, school, unit: the school's unless the account
-- names one): whose scorecards a worker warms
SELECT u.user_name, u.display_name, u.role, u.school_id, coalesce(u.unit_id, s.unit_id) AS unit_id,
       u.password_hash, u.active
FROM users u JOIN schools s ON s.school_id = u.school_id
WHERE u.role = 'hieu_truong' AND u.active
ORDER BY u.user_name
