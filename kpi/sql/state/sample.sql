-- The sample's entries and assessments (kpi.tools.sample): a demo reset replaces what the state store
-- holds of them. Each insert's parameters are the table's columns, in its order (kpi/sql/state/schema.sql).

-- name: clear_entries
-- every entry dropped.
DELETE FROM entries;

-- name: clear_entry_values
-- every value of every entry dropped.
DELETE FROM entry_values;

-- name: clear_period_locks
-- every lock of a school's period dropped.
DELETE FROM period_locks;

-- name: clear_audit
-- the audit rows the sample wrote itself dropped (what people did keeps its rows).
DELETE FROM audit WHERE detail LIKE '%"du_lieu_mau": true%';

-- name: entry
-- one entry of the sample.
-- Parameters: :school_id, :school_year, :round, :state, :version, :updated_at, :updated_by, :submitted_at,
-- :submitted_by, :first_submitted_at, :decided_at, :decided_by, :reason, :source
INSERT INTO entries VALUES (:school_id, :school_year, :round, :state, :version, :updated_at, :updated_by,
                            :submitted_at, :submitted_by, :first_submitted_at, :decided_at, :decided_by, :reason,
                            :source);

-- name: entry_value
-- one value of an entry of the sample.
-- Parameters: :school_id, :school_year, :round, :field_code, :raw, :value, :flags, :explanation
INSERT INTO entry_values VALUES (:school_id, :school_year, :round, :field_code, :raw, :value, :flags, :explanation);

-- name: period_lock
-- one locked school's period of the sample.
-- Parameters: :school_id, :school_year, :round, :locked_at, :locked_by
INSERT INTO period_locks VALUES (:school_id, :school_year, :round, :locked_at, :locked_by);

-- name: clear_assessments
-- every assessment dropped.
DELETE FROM assessments;

-- name: clear_assessment_items
-- every criterion of every assessment dropped.
DELETE FROM assessment_items;

-- name: clear_assessment_evidence
-- every evidence file dropped.
DELETE FROM assessment_evidence;

-- name: clear_assessment_cycles
-- every cycle's deadline and threshold dropped.
DELETE FROM assessment_cycles;

-- name: assessment
-- one assessment of the sample.
-- Parameters: :school_id, :school_year, :state, :version, :updated_at, :updated_by, :submitted_at,
-- :submitted_by, :decided_at, :decided_by, :reason, :publication_id
INSERT INTO assessments VALUES (:school_id, :school_year, :state, :version, :updated_at, :updated_by, :submitted_at,
                                :submitted_by, :decided_at, :decided_by, :reason, :publication_id);

-- name: assessment_item
-- one criterion of an assessment of the sample.
-- Parameters: :school_id, :school_year, :criterion_code, :self_points, :self_met, :note, :verified_points,
-- :verified_met, :comment, :returned, :verified_by, :verified_at
INSERT INTO assessment_items VALUES (:school_id, :school_year, :criterion_code, :self_points, :self_met, :note,
                                     :verified_points, :verified_met, :comment, :returned, :verified_by,
                                     :verified_at);

-- name: assessment_evidence
-- one evidence file of the sample.
-- Parameters: :school_id, :school_year, :criterion_code, :file_name, :kind, :size, :sha256, :content,
-- :uploaded_at, :uploaded_by
INSERT INTO assessment_evidence (school_id, school_year, criterion_code, file_name, kind, size, sha256, content,
                                 uploaded_at, uploaded_by)
VALUES (:school_id, :school_year, :criterion_code, :file_name, :kind, :size, :sha256, :content, :uploaded_at,
        :uploaded_by);
