-- one row per user, without password hashes
SELECT u.user_name, u.display_name, u.role, u.school_id, s.name AS school_name, u.unit_id, u.active,
       u.created_at, u.updated_at
FROM users u LEFT JOIN schools s USING (school_id)
ORDER BY u.role, u.user_name
