-- one row per school in scope open on a period's deadline: when its data arrived, against the deadline,
-- and where its entry stands in the app's workflow (kpi.domain.workflow)
-- received_at: the first arrival, whichever came first: a file the Phòng imported (submissions)
--   or the moment the school submitted in the app (table `entry_times`, kpi.workflows.entry.entry_times:
--   submitted, returned or approved alike: timeliness is the school's, not the review's)
-- status: 'dung_han' (by the end of the deadline day), 'tre' (later), 'chua_nop' (nothing yet)
-- state: the entry's state; a school without an entry is 'chua_nhap' while $period_open (the
--   period schools enter now), else 'da_khoa'
-- $school_id: a principal's own school (only its row); NULL = every school in scope
WITH arrived AS (
    SELECT s.school_id, s.name, s.level, s.ward, p.deadline, b.source AS file_source, e.state, e.version,
           e.first_submitted_at, e.submitted_at, e.decided_by, e.reason, e.flags, e.explained,
           b.received_at AS file_received_at,
           least(b.received_at, e.first_submitted_at) AS received_at
    FROM scope_schools($unit_id, yr := $school_year, rd := $round) s
    JOIN periods p ON p.school_year = $school_year AND p.round = $round
    LEFT JOIN submissions b ON b.school_id = s.school_id AND b.school_year = p.school_year AND b.round = p.round
    LEFT JOIN entry_times e ON e.school_id = s.school_id
    WHERE $school_id IS NULL OR s.school_id = $school_id
)
SELECT a.school_id, a.name, a.level, a.ward, a.deadline, a.received_at,
       CASE WHEN a.file_received_at IS NULL OR a.first_submitted_at < a.file_received_at
            THEN CASE WHEN a.received_at IS NOT NULL THEN 'nhap_lieu' END ELSE a.file_source END AS source,
       CASE WHEN a.received_at IS NULL THEN 'chua_nop'
            WHEN CAST(a.received_at AS DATE) <= a.deadline THEN 'dung_han' ELSE 'tre' END AS status,
       CASE WHEN a.received_at IS NOT NULL THEN date_diff('day', a.deadline, CAST(a.received_at AS DATE)) END
           AS days_late,
       coalesce(a.state, CASE WHEN $period_open THEN 'chua_nhap' ELSE 'da_khoa' END) AS state,
       coalesce(a.version, 0) AS version,
       a.submitted_at, a.decided_by, a.reason, coalesce(a.flags, 0) AS flags, coalesce(a.explained, 0) AS explained
FROM arrived a
ORDER BY status, a.name COLLATE vi
