-- kpi.imports.importer.write_entries: the schools' approved entries written as an import. An entry is a
-- school's whole report for the period: the stored values of its keys (the registered table in_keys:
-- school_id, school_year, round) that the entry (in_obs) leaves blank are removed, kept in the history.

-- @statement gone
-- Writes the temporary table entry_gone: the stored values of the entries' keys the entries leave blank.
-- parameters: none
CREATE OR REPLACE TEMP TABLE entry_gone AS
SELECT o.school_id, o.school_year, o.round, o.field_code, o.value, o.import_id FROM observations o
JOIN in_keys k USING (school_id, school_year, round)
WHERE NOT EXISTS (SELECT 1 FROM in_obs i WHERE i.school_id = o.school_id AND i.school_year = o.school_year
                  AND i.round = o.round AND i.field_code = o.field_code)

-- @statement gone_count
-- Reads how many values entry_gone holds.
-- parameters: none
SELECT count(*) FROM entry_gone

-- @statement keep_gone
-- Writes observation_history: each value removed (new value NULL).
-- parameters: $import_id
INSERT INTO observation_history
SELECT $import_id, school_id, school_year, round, field_code, value, import_id, NULL FROM entry_gone

-- @statement drop_gone
-- Deletes the values removed from observations.
-- parameters: none
DELETE FROM observations o USING entry_gone x
WHERE o.school_id = x.school_id AND o.school_year = x.school_year AND o.round = x.round
  AND o.field_code = x.field_code

-- @statement drop_table
-- Drops the temporary table entry_gone.
-- parameters: none
DROP TABLE entry_gone
