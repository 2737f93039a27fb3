-- assessment_evidence: one row per evidence file (minh chứng) of a criterion, the file itself a BLOB
-- (kpi.workflows.evidence_files).

-- name: list
-- one row per evidence file of one school's assessment of a year (no content), by criterion.
-- Parameters: :school_id, :school_year
SELECT evidence_id, criterion_code, file_name, kind, size, uploaded_at, uploaded_by FROM assessment_evidence
WHERE school_id = :school_id AND school_year = :school_year ORDER BY criterion_code, evidence_id;

-- name: file
-- at most one row: one evidence file, its content included.
-- Parameters: :evidence_id
SELECT school_id, school_year, criterion_code, file_name, kind, content FROM assessment_evidence
WHERE evidence_id = :evidence_id;

-- name: about
-- at most one row: whose one evidence file is (no content).
-- Parameters: :evidence_id
SELECT school_id, school_year, criterion_code, file_name FROM assessment_evidence WHERE evidence_id = :evidence_id;

-- name: used
-- one row: the bytes of evidence one school holds for a school year.
-- Parameters: :school_id, :school_year
SELECT coalesce(sum(size), 0) FROM assessment_evidence WHERE school_id = :school_id AND school_year = :school_year;

-- name: add
-- one new evidence file (lastrowid: its id).
-- Parameters: :school_id, :school_year, :criterion_code, :file_name, :kind, :size, :sha256, :content, :now,
-- :user_name
INSERT INTO assessment_evidence (school_id, school_year, criterion_code, file_name, kind, size, sha256, content,
                                 uploaded_at, uploaded_by)
VALUES (:school_id, :school_year, :criterion_code, :file_name, :kind, :size, :sha256, :content, :now, :user_name);

-- name: remove
-- one evidence file dropped.
-- Parameters: :evidence_id
DELETE FROM assessment_evidence WHERE evidence_id = :evidence_id;
