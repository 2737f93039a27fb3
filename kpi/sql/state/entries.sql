-- entries, entry_values, period_locks: the schools' figures entered in the app and the Phòng's
-- decisions and locks (kpi.workflows.entry; an approval's store side: kpi.store.recovery).

-- name: get
-- at most one row: one school's entry of one period.
-- Parameters: :school_id, :school_year, :round
SELECT state, version, updated_at, updated_by, submitted_at, submitted_by, first_submitted_at, decided_at,
       decided_by, reason, source
FROM entries WHERE school_id = :school_id AND school_year = :school_year AND round = :round;

-- name: values
-- one row per field the entry holds: as typed, parsed, its soft-check flags, the school's explanation.
-- Parameters: :school_id, :school_year, :round
SELECT field_code, raw, value, flags, explanation FROM entry_values
WHERE school_id = :school_id AND school_year = :school_year AND round = :round;

-- name: locked
-- one row when the Phòng locked the school's period, none otherwise.
-- Parameters: :school_id, :school_year, :round
SELECT 1 FROM period_locks WHERE school_id = :school_id AND school_year = :school_year AND round = :round;

-- name: save
-- the school's entry written (a new row, or the school's columns of the row: the Phòng's decision stays).
-- Parameters: :school_id, :school_year, :round, :state, :version, :now, :user_name, :submitted_at,
-- :submitted_by, :first_submitted_at, :decided_at, :decided_by, :reason, :source
INSERT INTO entries (school_id, school_year, round, state, version, updated_at, updated_by,
                     submitted_at, submitted_by, first_submitted_at, decided_at, decided_by, reason, source)
VALUES (:school_id, :school_year, :round, :state, :version, :now, :user_name, :submitted_at, :submitted_by,
        :first_submitted_at, :decided_at, :decided_by, :reason, :source)
ON CONFLICT (school_id, school_year, round) DO UPDATE SET
    state = excluded.state, version = excluded.version, updated_at = excluded.updated_at,
    updated_by = excluded.updated_by, submitted_at = excluded.submitted_at,
    submitted_by = excluded.submitted_by, first_submitted_at = excluded.first_submitted_at,
    source = excluded.source;

-- name: values_clear
-- every value of one entry dropped (a save writes them all again).
-- Parameters: :school_id, :school_year, :round
DELETE FROM entry_values WHERE school_id = :school_id AND school_year = :school_year AND round = :round;

-- name: value_add
-- one new value of an entry.
-- Parameters: :school_id, :school_year, :round, :field_code, :raw, :value, :flags, :explanation
INSERT INTO entry_values VALUES (:school_id, :school_year, :round, :field_code, :raw, :value, :flags, :explanation);

-- name: start
-- a new row for a school with no entry yet, which the Phòng decides on (a reopening).
-- Parameters: :school_id, :school_year, :round, :state, :now, :user_name
INSERT INTO entries (school_id, school_year, round, state, version, updated_at, updated_by, source)
VALUES (:school_id, :school_year, :round, :state, 0, :now, :user_name, 'form');

-- name: decide
-- the Phòng's decision on one entry (returned, reopened): its state, who, when, why.
-- Parameters: :school_id, :school_year, :round, :state, :now, :user_name, :reason
UPDATE entries SET state = :state, version = version + 1, decided_at = :now, decided_by = :user_name, reason = :reason
WHERE school_id = :school_id AND school_year = :school_year AND round = :round;

-- name: approve
-- one submitted entry approved, when it is still at the version the Phòng read (rowcount 0 otherwise).
-- Parameters: :school_id, :school_year, :round, :version, :now, :user_name
UPDATE entries SET state = 'da_duyet', version = version + 1, decided_at = :now, decided_by = :user_name, reason = NULL
WHERE school_id = :school_id AND school_year = :school_year AND round = :round AND state = 'da_nop'
  AND version = :version;

-- name: period_states
-- one row per entry of one period: school and stored state.
-- Parameters: :school_year, :round
SELECT school_id, state FROM entries WHERE school_year = :school_year AND round = :round;

-- name: lock_add
-- one school's period locked (kept when already locked).
-- Parameters: :school_id, :school_year, :round, :now, :user_name
INSERT INTO period_locks VALUES (:school_id, :school_year, :round, :now, :user_name) ON CONFLICT DO NOTHING;

-- name: lock_approved
-- every approved entry of a locked school of the period becomes locked.
-- Parameters: :school_year, :round
UPDATE entries SET state = 'da_khoa', version = version + 1
WHERE school_year = :school_year AND round = :round AND state = 'da_duyet' AND EXISTS (
    SELECT 1 FROM period_locks l WHERE l.school_id = entries.school_id
    AND l.school_year = entries.school_year AND l.round = entries.round);

-- name: times
-- one row per school with an entry or a lock in the period: stored state and version, first and
-- latest submission, the Phòng's latest decider and reason, how many values set off a soft check /
-- were explained, whether it is locked (kpi.workflows.entry.entry_times); with :school_id, of that school only.
-- Parameters: :school_year, :round, :school_id (NULL = every school)
SELECT k.school_id, e.state, coalesce(e.version, 0), e.first_submitted_at, e.submitted_at, e.decided_by, e.reason,
       (SELECT count(*) FROM entry_values v WHERE v.school_id = k.school_id AND v.school_year = :school_year
          AND v.round = :round AND v.flags IS NOT NULL),
       (SELECT count(*) FROM entry_values v WHERE v.school_id = k.school_id AND v.school_year = :school_year
          AND v.round = :round AND v.flags IS NOT NULL AND v.explanation IS NOT NULL),
       EXISTS (SELECT 1 FROM period_locks l WHERE l.school_id = k.school_id AND l.school_year = :school_year
               AND l.round = :round)
FROM (SELECT school_id FROM entries WHERE school_year = :school_year AND round = :round
      UNION SELECT school_id FROM period_locks WHERE school_year = :school_year AND round = :round) k
LEFT JOIN entries e ON e.school_id = k.school_id AND e.school_year = :school_year AND e.round = :round
WHERE CAST(:school_id AS TEXT) IS NULL OR k.school_id = :school_id;

-- name: pending_values
-- one row per parsed value of every submission waiting for the Phòng's decision (every period).
SELECT v.school_id, v.school_year, v.round, v.field_code, v.value FROM entry_values v
JOIN entries e USING (school_id, school_year, round)
WHERE e.state = 'da_nop' AND v.value IS NOT NULL;

-- name: pending_submissions
-- one row per submission waiting for the Phòng's decision: school, period, first submission.
SELECT school_id, school_year, round, coalesce(first_submitted_at, submitted_at) FROM entries WHERE state = 'da_nop';

-- name: flagged
-- one row per value of the period's entries that set off a soft check, by school and field.
-- Parameters: :school_year, :round
SELECT v.school_id, e.state, v.field_code, v.value, v.flags, v.explanation
FROM entry_values v JOIN entries e USING (school_id, school_year, round)
WHERE v.school_year = :school_year AND v.round = :round AND v.flags IS NOT NULL
ORDER BY v.school_id, v.field_code;

-- name: count
-- one row: how many entries the store holds (every school and period).
SELECT count(*) FROM entries;

-- name: period_states
-- one row per school with an entry in the period: its stored state (the importer's check of locked schools).
-- Parameters: :school_year, :round
SELECT school_id, state FROM entries WHERE school_year = :school_year AND round = :round;

-- name: period_locked
-- one row per school whose period the Phòng locked (the importer's check of locked schools).
-- Parameters: :school_year, :round
SELECT school_id FROM period_locks WHERE school_year = :school_year AND round = :round;

-- name: period_decided
-- one row per school whose figures of the period the Phòng approved or locked (a revert may not touch them).
-- Parameters: :school_year, :round
SELECT school_id FROM entries WHERE school_year = :school_year AND round = :round AND state IN ('da_duyet', 'da_khoa');

-- name: first_submissions
-- one row per entry the school ever submitted in the app: its first submission (frozen with a snapshot).
SELECT school_id, school_year, round, first_submitted_at FROM entries WHERE first_submitted_at IS NOT NULL;
