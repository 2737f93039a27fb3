-- assessments, assessment_items, assessment_cycles: the yearly maturity assessment of each school and
-- the office's settings of each cycle (kpi.workflows.assessment; a publication's store side:
-- kpi.store.recovery).

-- name: get
-- at most one row: one school's assessment of one school year.
-- Parameters: :school_id, :school_year
SELECT state, version, updated_at, updated_by, submitted_at, submitted_by, decided_at, decided_by, reason,
       publication_id
FROM assessments WHERE school_id = :school_id AND school_year = :school_year;

-- name: items
-- one row per criterion of the assessment: the school's points and note, the office's.
-- Parameters: :school_id, :school_year
SELECT criterion_code, self_points, self_met, note, verified_points, verified_met, comment, returned, verified_by
FROM assessment_items WHERE school_id = :school_id AND school_year = :school_year;

-- name: states
-- one row per school with an assessment of the year: state, latest submission, criteria returned.
-- Parameters: :school_year
SELECT school_id, state, submitted_at,
       (SELECT count(*) FROM assessment_items i WHERE i.school_id = a.school_id AND i.school_year = a.school_year
          AND i.returned <> 0)
FROM assessments a WHERE school_year = :school_year;

-- name: publishable
-- one row per school whose assessment of the year is approved or already published.
-- Parameters: :school_year
SELECT school_id FROM assessments WHERE school_year = :school_year AND state IN ('da_duyet', 'da_cong_bo')
ORDER BY school_id;

-- name: save
-- the school's assessment written: its state and version, who saved it and when; a submission's
-- moment and author (kept when this is not a submission).
-- Parameters: :school_id, :school_year, :state, :version, :now, :user_name, :submitted_at, :submitted_by
INSERT INTO assessments (school_id, school_year, state, version, updated_at, updated_by, submitted_at, submitted_by)
VALUES (:school_id, :school_year, :state, :version, :now, :user_name, :submitted_at, :submitted_by)
ON CONFLICT (school_id, school_year) DO UPDATE SET state = excluded.state, version = excluded.version,
    updated_at = excluded.updated_at, updated_by = excluded.updated_by,
    submitted_at = coalesce(excluded.submitted_at, assessments.submitted_at),
    submitted_by = coalesce(excluded.submitted_by, assessments.submitted_by);

-- name: item_self
-- the school's points (or met, for a condition) and note of one criterion.
-- Parameters: :school_id, :school_year, :criterion_code, :points, :met, :note
INSERT INTO assessment_items (school_id, school_year, criterion_code, self_points, self_met, note, returned)
VALUES (:school_id, :school_year, :criterion_code, :points, :met, :note, 0)
ON CONFLICT (school_id, school_year, criterion_code) DO UPDATE SET
    self_points = excluded.self_points, self_met = excluded.self_met, note = excluded.note;

-- name: items_answered
-- every criterion of the assessment no longer returned (a resubmission answers them).
-- Parameters: :school_id, :school_year
UPDATE assessment_items SET returned = 0 WHERE school_id = :school_id AND school_year = :school_year;

-- name: item_verify
-- the office's points (or met) of one criterion, its comment, who verified and when.
-- Parameters: :school_id, :school_year, :criterion_code, :points, :met, :comment, :user_name, :now
INSERT INTO assessment_items (school_id, school_year, criterion_code, verified_points, verified_met,
                              comment, returned, verified_by, verified_at)
VALUES (:school_id, :school_year, :criterion_code, :points, :met, :comment, 0, :user_name, :now)
ON CONFLICT (school_id, school_year, criterion_code) DO UPDATE SET
    verified_points = excluded.verified_points, verified_met = excluded.verified_met,
    comment = excluded.comment, verified_by = excluded.verified_by, verified_at = excluded.verified_at;

-- name: item_return
-- one criterion returned to the school, with the office's comment (an empty one keeps the former).
-- Parameters: :school_id, :school_year, :criterion_code, :comment
INSERT INTO assessment_items (school_id, school_year, criterion_code, comment, returned)
VALUES (:school_id, :school_year, :criterion_code, :comment, 1)
ON CONFLICT (school_id, school_year, criterion_code) DO UPDATE SET
    returned = 1, comment = coalesce(excluded.comment, assessment_items.comment);

-- name: items_approve
-- every criterion of an approved assessment: verified = the office's value, else the school's.
-- Parameters: :school_id, :school_year, :user_name, :now
UPDATE assessment_items SET verified_points = coalesce(verified_points, self_points),
    verified_met = coalesce(verified_met, self_met), returned = 0,
    verified_by = coalesce(verified_by, :user_name), verified_at = coalesce(verified_at, :now)
WHERE school_id = :school_id AND school_year = :school_year;

-- name: version_up
-- the assessment's version +1 (a verified criterion changes it; the state stays).
-- Parameters: :school_id, :school_year
UPDATE assessments SET version = version + 1 WHERE school_id = :school_id AND school_year = :school_year;

-- name: start
-- a new draft assessment (its first change is an evidence file).
-- Parameters: :school_id, :school_year, :now, :user_name
INSERT INTO assessments (school_id, school_year, state, version, updated_at, updated_by)
VALUES (:school_id, :school_year, 'nhap', 1, :now, :user_name);

-- name: touch
-- the assessment changed by the school (an evidence file added or removed): version +1, who, when.
-- Parameters: :school_id, :school_year, :now, :user_name
UPDATE assessments SET version = version + 1, updated_at = :now, updated_by = :user_name
WHERE school_id = :school_id AND school_year = :school_year;

-- name: decide
-- the office's decision on one assessment (returned, approved, reopened): state, who, when, why.
-- Parameters: :school_id, :school_year, :state, :now, :user_name, :reason
UPDATE assessments SET state = :state, version = version + 1, decided_at = :now, decided_by = :user_name,
    reason = :reason
WHERE school_id = :school_id AND school_year = :school_year;

-- name: publish
-- one school's approved (or already published) assessment becomes published in a publication.
-- Parameters: :school_id, :school_year, :publication_id
UPDATE assessments SET state = 'da_cong_bo', version = version + 1, publication_id = :publication_id
WHERE school_id = :school_id AND school_year = :school_year AND state IN ('da_duyet', 'da_cong_bo');

-- name: cycle
-- at most one row: the office's deadline (ISO date) and flag threshold of a school year.
-- Parameters: :school_year
SELECT deadline, threshold FROM assessment_cycles WHERE school_year = :school_year;

-- name: cycle_set
-- the office's deadline and flag threshold of a school year written.
-- Parameters: :school_year, :deadline (ISO date), :threshold, :user_name, :now
INSERT INTO assessment_cycles VALUES (:school_year, :deadline, :threshold, :user_name, :now)
ON CONFLICT (school_year) DO UPDATE SET deadline = excluded.deadline, threshold = excluded.threshold,
    set_by = excluded.set_by, set_at = excluded.set_at;
