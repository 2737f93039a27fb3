-- one row per active principal account (user name, school, unit): whose scorecards a worker warms
SELECT user_name, display_name, role, school_id, unit_id, password_hash, active
FROM users WHERE role = 'hieu_truong' AND active AND school_id IS NOT NULL
ORDER BY user_name
