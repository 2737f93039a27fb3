-- assessment_evidence on PostgreSQL: the statements of kpi/sql/state/evidence.sql whose SQLite text does not
-- give PostgreSQL's answer (the new row's id: RETURNING, where SQLite has lastrowid).

-- name: add
-- one new evidence file (its one row: its id, read as lastrowid).
-- Parameters: :school_id, :school_year, :criterion_code, :file_name, :kind, :size, :sha256, :content, :now,
-- :user_name
INSERT INTO assessment_evidence (school_id, school_year, criterion_code, file_name, kind, size, sha256, content,
                                 uploaded_at, uploaded_by)
VALUES (:school_id, :school_year, :criterion_code, :file_name, :kind, :size, :sha256, :content, :now, :user_name)
RETURNING evidence_id;
