-- kpi.imports.importer.revert: an import undone: the values and criterion entries it replaced put back,
-- its submissions removed, its row marked 'reverted', and a row (source 'revert') recording the undo.

-- @statement source
-- Reads an import's source ('import', 'nhap_lieu', 'danh_gia', 'revert').
-- parameters: import_id
SELECT source FROM imports WHERE import_id = ?

-- @statement publication
-- Reads the publication whose entries the import wrote (none: not a publication's).
-- parameters: import_id
SELECT publication_id FROM publications WHERE import_id = ?

-- @statement period_keys
-- Reads the (school, school year, round) whose values the import changed.
-- parameters: import_id
SELECT DISTINCT school_id, school_year, round FROM observation_history WHERE import_id = ?

-- @statement score_keys
-- Reads the (school, school year) whose criterion entries the import changed.
-- parameters: import_id
SELECT DISTINCT school_id, school_year FROM criterion_history WHERE import_id = ?

-- @statement import
-- Reads an import's file name and status.
-- parameters: import_id
SELECT file_name, status FROM imports WHERE import_id = ?

-- @statement later_observations
-- Reads how many values the import replaced that a later import has changed since.
-- parameters: $import_id
SELECT count(*) FROM observation_history h JOIN observations o USING (school_id, school_year, round, field_code)
WHERE h.import_id = $import_id AND o.import_id <> $import_id

-- @statement later_scores
-- Reads how many criterion entries the import replaced that a later import has changed since.
-- parameters: $import_id
SELECT count(*) FROM criterion_history h JOIN criterion_scores c USING (school_id, school_year, criterion_code)
WHERE h.import_id = $import_id AND c.import_id <> $import_id

-- @statement drop_observations
-- Deletes the values the import wrote.
-- parameters: $import_id
DELETE FROM observations o USING observation_history h
WHERE h.import_id = $import_id AND o.import_id = $import_id AND o.school_id = h.school_id
  AND o.school_year = h.school_year AND o.round = h.round AND o.field_code = h.field_code

-- @statement restore_observations
-- Writes observations: the values the import replaced.
-- parameters: $import_id
INSERT INTO observations SELECT school_id, school_year, round, field_code, old_value, old_import
FROM observation_history WHERE import_id = $import_id AND old_value IS NOT NULL
ORDER BY school_year, round, school_id, field_code  -- the table's order (schema.sql)

-- @statement drop_scores
-- Deletes the criterion entries the import wrote.
-- parameters: $import_id
DELETE FROM criterion_scores c USING criterion_history h
WHERE h.import_id = $import_id AND c.import_id = $import_id AND c.school_id = h.school_id
  AND c.school_year = h.school_year AND c.criterion_code = h.criterion_code

-- @statement restore_scores
-- Writes criterion_scores: the entries the import replaced.
-- parameters: $import_id
INSERT INTO criterion_scores SELECT school_id, school_year, criterion_code, old_self_points,
       old_self_met, old_verified_points, old_verified_met, old_evidence_url, old_import
FROM criterion_history WHERE import_id = $import_id AND existed

-- @statement drop_submissions
-- Deletes the submissions the import recorded.
-- parameters: $import_id
DELETE FROM submissions WHERE import_id = $import_id

-- @statement touched
-- Reads the (school, school year) the import changed (what the stored index must rescore).
-- parameters: $import_id
SELECT DISTINCT school_id, school_year FROM observation_history WHERE import_id = $import_id
UNION SELECT DISTINCT school_id, school_year FROM criterion_history WHERE import_id = $import_id

-- @statement doubled
-- Reads how many keys the revert wrote that now hold two values (the schema's uniqueness rule).
-- parameters: $import_id
SELECT count(*) FROM (SELECT 1 FROM observations o WHERE EXISTS (
    SELECT 1 FROM observation_history h WHERE h.import_id = $import_id AND h.school_id = o.school_id
      AND h.school_year = o.school_year AND h.round = o.round AND h.field_code = o.field_code)
GROUP BY school_id, school_year, round, field_code HAVING count(*) > 1)

-- @statement mark
-- Writes imports: the import's status 'reverted'.
-- parameters: $import_id
UPDATE imports SET status = 'reverted' WHERE import_id = $import_id

-- @statement next_id
-- Reads the id of the row that records the undo.
-- parameters: none
SELECT max(import_id) + 1 FROM imports

-- @statement record
-- Writes imports: the undo's row (source 'revert', no file, nothing counted).
-- parameters: import_id, user_name, started_at, finished_at, file_name
INSERT INTO imports VALUES (?, ?, ?, ?, ?, '', 'revert', 0, 0, 'applied')
