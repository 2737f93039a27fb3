-- one row per change made in Quản trị to the reference data (schools, units, published targets), newest first
SELECT change_id, changed_at, user_name, effective_on, kind, object_id, detail
FROM reference_changes
ORDER BY change_id DESC
LIMIT $limit
