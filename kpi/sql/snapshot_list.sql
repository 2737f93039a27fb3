-- one row per snapshot (chốt số liệu), newest first; $school_year NULL = all
SELECT snapshot_id, name, school_year, round, created_by, created_at, content_hash,
       (SELECT count(*) FROM snapshot_observations o WHERE o.snapshot_id = s.snapshot_id) AS observations
FROM snapshots s
WHERE $school_year IS NULL OR school_year = $school_year
ORDER BY created_at DESC
