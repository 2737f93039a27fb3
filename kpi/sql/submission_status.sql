-- one row per active school in scope for a period: when its data arrived, against the deadline
-- status: 'dung_han' (by the end of the deadline day), 'tre' (later), 'chua_nop' (no submission)
-- $school_id: a principal's own school (only its row); NULL = every school in scope
SELECT s.school_id, s.name, s.level, s.ward, p.deadline, b.received_at, b.source,
       CASE WHEN b.received_at IS NULL THEN 'chua_nop'
            WHEN CAST(b.received_at AS DATE) <= p.deadline THEN 'dung_han' ELSE 'tre' END AS status,
       CASE WHEN b.received_at IS NOT NULL THEN date_diff('day', p.deadline, CAST(b.received_at AS DATE)) END
           AS days_late
FROM scope_schools($unit_id) s
JOIN periods p ON p.school_year = $school_year AND p.round = $round
LEFT JOIN submissions b ON b.school_id = s.school_id AND b.school_year = p.school_year AND b.round = p.round
WHERE $school_id IS NULL OR s.school_id = $school_id
ORDER BY status, s.name COLLATE vi
