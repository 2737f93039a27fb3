-- kpi.store.db: a version 3 file brought to version 4's order of observations: by period, then school,
-- then field (they were by period, then field). A principal's pages read one school: with a school's
-- rows together inside each period, DuckDB's zone maps skip every row group of a period but the one
-- holding that school (national file, 16,8 million rows: 250-350 ms → 20-50 ms a school), while a
-- period's queries still skip the other periods. The table is renamed, created again from schema.sql's
-- definition, refilled in that order and the old one dropped.

-- @statement rename
-- Renames observations to observations_v3.
-- parameters: none
ALTER TABLE observations RENAME TO observations_v3

-- @statement copy
-- Writes every observations_v3 row into the new observations table, by period, school and field.
-- parameters: none
INSERT INTO observations SELECT * FROM observations_v3 ORDER BY school_year, round, school_id, field_code

-- @statement drop
-- Drops observations_v3.
-- parameters: none
DROP TABLE observations_v3
