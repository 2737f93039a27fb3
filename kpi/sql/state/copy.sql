-- Every table of the state store copied whole, one table at a time (kpi.store.state_pg: a PostgreSQL
-- store's copy_to, a SQLite file, and load_from, a SQLite store moved to PostgreSQL). Each table's
-- columns in the order of kpi/sql/state/schema.sql; the same text on both dialects.

-- name: sessions
-- one row per row of sessions, every column, in its key's order.
SELECT session_id, user_name, issued_at, last_seen, revoked_at, reason, client FROM sessions ORDER BY
    session_id;

-- name: sessions_add
-- one row of sessions written as it was read.
-- Parameters: :session_id, :user_name, :issued_at, :last_seen, :revoked_at, :reason, :client
INSERT INTO sessions (session_id, user_name, issued_at, last_seen, revoked_at, reason, client)
VALUES (:session_id, :user_name, :issued_at, :last_seen, :revoked_at, :reason, :client);

-- name: login_failures
-- one row per row of login_failures, every column, in its key's order.
SELECT key, failures, first_at, last_at FROM login_failures ORDER BY key;

-- name: login_failures_add
-- one row of login_failures written as it was read.
-- Parameters: :key, :failures, :first_at, :last_at
INSERT INTO login_failures (key, failures, first_at, last_at)
VALUES (:key, :failures, :first_at, :last_at);

-- name: audit
-- one row per row of audit, every column, in its key's order.
SELECT audit_id, at, user_name, action, detail, client FROM audit ORDER BY audit_id;

-- name: audit_add
-- one row of audit written as it was read.
-- Parameters: :audit_id, :at, :user_name, :action, :detail, :client
INSERT INTO audit (audit_id, at, user_name, action, detail, client)
VALUES (:audit_id, :at, :user_name, :action, :detail, :client);

-- name: entries
-- one row per row of entries, every column, in its key's order.
SELECT school_id, school_year, round, state, version, updated_at, updated_by, submitted_at, submitted_by,
    first_submitted_at, decided_at, decided_by, reason, source FROM entries ORDER BY school_id, school_year,
    round;

-- name: entries_add
-- one row of entries written as it was read.
-- Parameters: :school_id, :school_year, :round, :state, :version, :updated_at, :updated_by, :submitted_at,
-- :submitted_by, :first_submitted_at, :decided_at, :decided_by, :reason, :source
INSERT INTO entries (school_id, school_year, round, state, version, updated_at, updated_by, submitted_at,
    submitted_by, first_submitted_at, decided_at, decided_by, reason, source)
VALUES (:school_id, :school_year, :round, :state, :version, :updated_at, :updated_by, :submitted_at,
    :submitted_by, :first_submitted_at, :decided_at, :decided_by, :reason, :source);

-- name: entry_values
-- one row per row of entry_values, every column, in its key's order.
SELECT school_id, school_year, round, field_code, raw, value, flags, explanation FROM entry_values ORDER BY
    school_id, school_year, round, field_code;

-- name: entry_values_add
-- one row of entry_values written as it was read.
-- Parameters: :school_id, :school_year, :round, :field_code, :raw, :value, :flags, :explanation
INSERT INTO entry_values (school_id, school_year, round, field_code, raw, value, flags, explanation)
VALUES (:school_id, :school_year, :round, :field_code, :raw, :value, :flags, :explanation);

-- name: period_locks
-- one row per row of period_locks, every column, in its key's order.
SELECT school_id, school_year, round, locked_at, locked_by FROM period_locks ORDER BY school_id, school_year,
    round;

-- name: period_locks_add
-- one row of period_locks written as it was read.
-- Parameters: :school_id, :school_year, :round, :locked_at, :locked_by
INSERT INTO period_locks (school_id, school_year, round, locked_at, locked_by)
VALUES (:school_id, :school_year, :round, :locked_at, :locked_by);

-- name: counters
-- one row per row of counters, every column, in its key's order.
SELECT name, value FROM counters ORDER BY name;

-- name: counters_add
-- one row of counters written as it was read.
-- Parameters: :name, :value
INSERT INTO counters (name, value)
VALUES (:name, :value);

-- name: assessments
-- one row per row of assessments, every column, in its key's order.
SELECT school_id, school_year, state, version, updated_at, updated_by, submitted_at, submitted_by, decided_at,
    decided_by, reason, publication_id FROM assessments ORDER BY school_id, school_year;

-- name: assessments_add
-- one row of assessments written as it was read.
-- Parameters: :school_id, :school_year, :state, :version, :updated_at, :updated_by, :submitted_at,
-- :submitted_by, :decided_at, :decided_by, :reason, :publication_id
INSERT INTO assessments (school_id, school_year, state, version, updated_at, updated_by, submitted_at,
    submitted_by, decided_at, decided_by, reason, publication_id)
VALUES (:school_id, :school_year, :state, :version, :updated_at, :updated_by, :submitted_at, :submitted_by,
    :decided_at, :decided_by, :reason, :publication_id);

-- name: assessment_items
-- one row per row of assessment_items, every column, in its key's order.
SELECT school_id, school_year, criterion_code, self_points, self_met, note, verified_points, verified_met,
    comment, returned, verified_by, verified_at FROM assessment_items ORDER BY school_id, school_year,
    criterion_code;

-- name: assessment_items_add
-- one row of assessment_items written as it was read.
-- Parameters: :school_id, :school_year, :criterion_code, :self_points, :self_met, :note, :verified_points,
-- :verified_met, :comment, :returned, :verified_by, :verified_at
INSERT INTO assessment_items (school_id, school_year, criterion_code, self_points, self_met, note,
    verified_points, verified_met, comment, returned, verified_by, verified_at)
VALUES (:school_id, :school_year, :criterion_code, :self_points, :self_met, :note, :verified_points,
    :verified_met, :comment, :returned, :verified_by, :verified_at);

-- name: assessment_evidence
-- one row per row of assessment_evidence, every column, in its key's order.
SELECT evidence_id, school_id, school_year, criterion_code, file_name, kind, size, sha256, content,
    uploaded_at, uploaded_by FROM assessment_evidence ORDER BY evidence_id;

-- name: assessment_evidence_add
-- one row of assessment_evidence written as it was read.
-- Parameters: :evidence_id, :school_id, :school_year, :criterion_code, :file_name, :kind, :size, :sha256,
-- :content, :uploaded_at, :uploaded_by
INSERT INTO assessment_evidence (evidence_id, school_id, school_year, criterion_code, file_name, kind, size,
    sha256, content, uploaded_at, uploaded_by)
VALUES (:evidence_id, :school_id, :school_year, :criterion_code, :file_name, :kind, :size, :sha256, :content,
    :uploaded_at, :uploaded_by);

-- name: assessment_cycles
-- one row per row of assessment_cycles, every column, in its key's order.
SELECT school_year, deadline, threshold, set_by, set_at FROM assessment_cycles ORDER BY school_year;

-- name: assessment_cycles_add
-- one row of assessment_cycles written as it was read.
-- Parameters: :school_year, :deadline, :threshold, :set_by, :set_at
INSERT INTO assessment_cycles (school_year, deadline, threshold, set_by, set_at)
VALUES (:school_year, :deadline, :threshold, :set_by, :set_at);

-- name: target_drafts
-- one row per row of target_drafts, every column, in its key's order.
SELECT school_year, source_year, base_version, document, rows, version, created_by, created_at, updated_by,
    updated_at FROM target_drafts ORDER BY school_year;

-- name: target_drafts_add
-- one row of target_drafts written as it was read.
-- Parameters: :school_year, :source_year, :base_version, :document, :rows, :version, :created_by,
-- :created_at, :updated_by, :updated_at
INSERT INTO target_drafts (school_year, source_year, base_version, document, rows, version, created_by,
    created_at, updated_by, updated_at)
VALUES (:school_year, :source_year, :base_version, :document, :rows, :version, :created_by, :created_at,
    :updated_by, :updated_at);

-- name: account_passwords
-- one row per row of account_passwords, every column, in its key's order.
SELECT user_name, must_change, previous_hash, changed_at, changed_by FROM account_passwords ORDER BY
    user_name;

-- name: account_passwords_add
-- one row of account_passwords written as it was read.
-- Parameters: :user_name, :must_change, :previous_hash, :changed_at, :changed_by
INSERT INTO account_passwords (user_name, must_change, previous_hash, changed_at, changed_by)
VALUES (:user_name, :must_change, :previous_hash, :changed_at, :changed_by);

-- name: intents
-- one row per row of intents, every column, in its key's order.
SELECT intent_id, kind, user_name, keys, state, created_at, done_at, result FROM intents ORDER BY intent_id;

-- name: intents_add
-- one row of intents written as it was read.
-- Parameters: :intent_id, :kind, :user_name, :keys, :state, :created_at, :done_at, :result
INSERT INTO intents (intent_id, kind, user_name, keys, state, created_at, done_at, result)
VALUES (:intent_id, :kind, :user_name, :keys, :state, :created_at, :done_at, :result);
