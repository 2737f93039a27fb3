-- one row for one user name (any state): for login and session checks
SELECT user_name, display_name, role, school_id, unit_id, password_hash, active FROM users WHERE user_name = $user_name
