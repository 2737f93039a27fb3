-- one row per school ever recorded (open, closed or merged), for Quản trị: its facts and dates
SELECT s.school_id, s.name, s.level, s.ownership, s.ward, s.unit_id, u.name AS unit_name, s.active,
       d.opened_on, d.closed_on, d.merged_into
FROM schools s
LEFT JOIN school_dates d ON d.school_id = s.school_id
LEFT JOIN units u ON u.unit_id = s.unit_id
ORDER BY s.active DESC, s.name COLLATE vi
