-- kpi.workflows.snapshots: a reporting round frozen (chốt số liệu): every observation and submission of
-- the periods up to and including ($y, $r) (a period is up to it when its school year is earlier, or
-- the same with round $r or HK1), the maturity entries of the school years up to $y, under one
-- snapshot id, and the snapshot's record with its content hash.

-- @statement period
-- Reads whether the reporting period exists.
-- parameters: school_year, round
SELECT 1 FROM periods WHERE school_year = ? AND round = ?

-- @statement count
-- Reads how many snapshots the period has (the new one's number follows).
-- parameters: school_year, round
SELECT count(*) FROM snapshots WHERE school_year = ? AND round = ?

-- @statement observations
-- Writes snapshot_observations: the observations of the periods up to ($y, $r).
-- parameters: $id (the snapshot), $y (school year), $r (round)
INSERT INTO snapshot_observations
SELECT $id, school_id, school_year, round, field_code, value FROM observations
WHERE school_year < $y OR (school_year = $y AND (round = $r OR round = 'HK1'))

-- @statement scores
-- Writes snapshot_scores: the maturity entries of the school years up to $y.
-- parameters: $id (the snapshot), $y (school year)
INSERT INTO snapshot_scores
SELECT $id, school_id, school_year, criterion_code, self_points, self_met, verified_points, verified_met
FROM criterion_scores WHERE school_year <= $y

-- @statement submissions
-- Writes snapshot_submissions: each school's first arrival per period up to ($y, $r), whichever came
-- first: a file imported (submissions) or the school's own submission in the app (the registered
-- table app_submissions: school_id, school_year, round, first_submitted_at).
-- parameters: $id (the snapshot), $y (school year), $r (round)
INSERT INTO snapshot_submissions
SELECT $id, school_id, school_year, round,
       CASE WHEN a.first_submitted_at < s.received_at OR s.received_at IS NULL
            THEN a.first_submitted_at ELSE s.received_at END,
       CASE WHEN a.first_submitted_at < s.received_at OR s.received_at IS NULL
            THEN 'nhap_lieu' ELSE s.source END
FROM submissions s FULL OUTER JOIN app_submissions a USING (school_id, school_year, round)
WHERE school_year < $y OR (school_year = $y AND (round = $r OR round = 'HK1'))

-- @statement record
-- Writes snapshots: the snapshot's record and content hash.
-- parameters: snapshot_id, name, school_year, round, created_by, created_at, content_hash
INSERT INTO snapshots VALUES (?, ?, ?, ?, ?, ?, ?)

-- @statement info
-- Reads one snapshot's record.
-- parameters: snapshot_id
SELECT snapshot_id, name, school_year, round, created_by, created_at, content_hash
FROM snapshots WHERE snapshot_id = ?

-- @statement observation_rows
-- Reads a snapshot's observations in a canonical order (the first part of its content hash).
-- parameters: snapshot_id
SELECT * EXCLUDE (snapshot_id) FROM snapshot_observations WHERE snapshot_id = ? ORDER BY ALL

-- @statement score_rows
-- Reads a snapshot's maturity entries in a canonical order (the second part of its content hash).
-- parameters: snapshot_id
SELECT * EXCLUDE (snapshot_id) FROM snapshot_scores WHERE snapshot_id = ? ORDER BY ALL

-- @statement submission_rows
-- Reads a snapshot's submissions in a canonical order (the third part of its content hash).
-- parameters: snapshot_id
SELECT * EXCLUDE (snapshot_id) FROM snapshot_submissions WHERE snapshot_id = ? ORDER BY ALL
