-- kpi.store.db: a version 1 file brought to the uniqueness rules of version 2. Version 1 let an import
-- that read the same table twice (a copied or hidden sheet) store two values for one key, and a revert
-- of such an import restore both. Only keys an import touched can be doubled; the first row stored is
-- kept.

-- @statement observation_history
-- Deletes the doubled rows of observation_history.
-- parameters: none
DELETE FROM observation_history WHERE rowid IN (SELECT rowid FROM (
    SELECT rowid, row_number() OVER (PARTITION BY import_id, school_id, school_year, round, field_code
                                     ORDER BY rowid) AS k
    FROM observation_history t
    WHERE EXISTS (SELECT 1 FROM observation_history h
                  WHERE h.import_id = t.import_id AND h.school_id = t.school_id AND h.school_year = t.school_year
                    AND h.round = t.round AND h.field_code = t.field_code))
WHERE k > 1)

-- @statement criterion_history
-- Deletes the doubled rows of criterion_history.
-- parameters: none
DELETE FROM criterion_history WHERE rowid IN (SELECT rowid FROM (
    SELECT rowid, row_number() OVER (PARTITION BY import_id, school_id, school_year, criterion_code
                                     ORDER BY rowid) AS k
    FROM criterion_history t
    WHERE EXISTS (SELECT 1 FROM criterion_history h
                  WHERE h.import_id = t.import_id AND h.school_id = t.school_id AND h.school_year = t.school_year
                    AND h.criterion_code = t.criterion_code))
WHERE k > 1)

-- @statement observations
-- Deletes the doubled rows of observations (keys some import touched).
-- parameters: none
DELETE FROM observations WHERE rowid IN (SELECT rowid FROM (
    SELECT rowid, row_number() OVER (PARTITION BY school_id, school_year, round, field_code ORDER BY rowid) AS k
    FROM observations t
    WHERE EXISTS (SELECT 1 FROM observation_history h
                  WHERE h.school_id = t.school_id AND h.school_year = t.school_year
                    AND h.round = t.round AND h.field_code = t.field_code))
WHERE k > 1)

-- @statement criterion_scores
-- Deletes the doubled rows of criterion_scores (keys some import touched).
-- parameters: none
DELETE FROM criterion_scores WHERE rowid IN (SELECT rowid FROM (
    SELECT rowid, row_number() OVER (PARTITION BY school_id, school_year, criterion_code ORDER BY rowid) AS k
    FROM criterion_scores t
    WHERE EXISTS (SELECT 1 FROM criterion_history h
                  WHERE h.school_id = t.school_id AND h.school_year = t.school_year
                    AND h.criterion_code = t.criterion_code))
WHERE k > 1)
