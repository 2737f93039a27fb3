-- kpi.imports.importer: a checked file's values written in the writer's transaction, keeping what they
-- replace. The file's rows are the registered tables in_obs (school_id, school_year, round, field_code,
-- value) and in_scores (school_id, school_year, criterion_code, self_points, self_met, evidence_url,
-- verified_points, verified_met).

-- @statement diff
-- Reads each value of the file beside the value stored for its key (NULL: none).
-- parameters: none
SELECT i.school_id, i.school_year, i.round, i.field_code, i.value, o.value AS old_value, o.import_id AS old_import
FROM in_obs i LEFT JOIN observations o USING (school_id, school_year, round, field_code)

-- @statement score_diff
-- Reads each criterion row of the file beside the entry stored for its key (existed: there is one).
-- parameters: none
SELECT i.*, c.self_points AS o_sp, c.self_met AS o_sm, c.evidence_url AS o_ev, c.verified_points AS o_vp,
       c.verified_met AS o_vm, c.import_id AS o_imp, c.school_id IS NOT NULL AS existed
FROM in_scores i LEFT JOIN criterion_scores c USING (school_id, school_year, criterion_code)

-- @statement next_import
-- Reads the next import id.
-- parameters: none
SELECT coalesce(max(import_id), 0) + 1 FROM imports

-- @statement submissions
-- Reads every (school, school year, round) with a submission stored.
-- parameters: none
SELECT school_id, school_year, round FROM submissions

-- @statement keep_observations
-- Writes observation_history: each value the file changes or adds, with the value it replaces.
-- parameters: $import_id
INSERT INTO observation_history
SELECT $import_id, school_id, school_year, round, field_code, old_value, old_import, value
FROM (
-- @include import_apply.diff
) WHERE old_value IS DISTINCT FROM value

-- @statement drop_observations
-- Deletes the stored values the file changes.
-- parameters: none
DELETE FROM observations o USING in_obs i
WHERE o.school_id = i.school_id AND o.school_year = i.school_year AND o.round = i.round
  AND o.field_code = i.field_code AND o.value IS DISTINCT FROM i.value

-- @statement put_observations
-- Writes observations: each value of the file whose key holds none now (new, or just deleted as changed).
-- parameters: $import_id
INSERT INTO observations
SELECT i.school_id, i.school_year, i.round, i.field_code, i.value, $import_id FROM in_obs i
WHERE NOT EXISTS (SELECT 1 FROM observations o WHERE o.school_id = i.school_id
      AND o.school_year = i.school_year AND o.round = i.round AND o.field_code = i.field_code)
ORDER BY i.school_year, i.round, i.school_id, i.field_code  -- the table's order (schema.sql)

-- @statement submission
-- Writes submissions: a school's data for a period arrived.
-- parameters: school_id, school_year, round, received_at, source, import_id
INSERT INTO submissions VALUES (?, ?, ?, ?, ?, ?)

-- @statement keep_score
-- Writes criterion_history: the criterion entry a file's row replaces.
-- parameters: import_id, school_id, school_year, criterion_code, old_self_points, old_self_met,
--   old_verified_points, old_verified_met, old_evidence_url, old_import, existed
INSERT INTO criterion_history VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)

-- @statement drop_score
-- Deletes one criterion entry (replaced next by `put_score`).
-- parameters: school_id, school_year, criterion_code
DELETE FROM criterion_scores WHERE school_id = ? AND school_year = ? AND criterion_code = ?

-- @statement put_score
-- Writes criterion_scores: one criterion entry, the file's filled cells over what was stored.
-- parameters: school_id, school_year, criterion_code, self_points, self_met, verified_points,
--   verified_met, evidence_url, import_id
INSERT INTO criterion_scores VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)

-- @statement written_twice
-- Reads up to 3 keys the file wrote that now hold two values or entries (the schema's uniqueness rules,
-- kpi/sql/schema.sql duplicate_keys, on the keys written only).
-- parameters: none
SELECT school_id, school_year, round, field_code FROM observations o
WHERE EXISTS (SELECT 1 FROM in_obs i WHERE i.school_id = o.school_id AND i.school_year = o.school_year
              AND i.round = o.round AND i.field_code = o.field_code)
GROUP BY ALL HAVING count(*) > 1
UNION ALL
SELECT school_id, school_year, NULL, criterion_code FROM criterion_scores c
WHERE EXISTS (SELECT 1 FROM in_scores i WHERE i.school_id = c.school_id AND i.school_year = c.school_year
              AND i.criterion_code = c.criterion_code)
GROUP BY ALL HAVING count(*) > 1
LIMIT 3

-- @statement record
-- Writes imports: the import's row (applied).
-- parameters: import_id, user_name, started_at, finished_at, file_name, sha256, source, rows, values_changed
INSERT INTO imports VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'applied')
