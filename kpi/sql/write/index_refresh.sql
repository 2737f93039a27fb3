-- kpi.store.derived: the stored maturity index (index_points, index_groups, index_schools) rescored for
-- some school years and schools inside a writer's transaction, and marked as matching the catalog.

-- @statement meta
-- Reads the meta table (whether the stored index still matches the catalog and the data).
-- parameters: none
SELECT key, value FROM meta

-- @statement all_years
-- Reads every school year with maturity entries or a reporting period (a full rescore).
-- parameters: none
SELECT DISTINCT school_year FROM criterion_scores UNION SELECT DISTINCT school_year FROM periods

-- @statement delete_points
-- Deletes the index_points rows of the years (and schools; NULL: every school) being rescored.
-- parameters: $years, $schools
DELETE FROM index_points
WHERE list_contains($years, school_year) AND ($schools IS NULL OR list_contains($schools, school_id))

-- @statement delete_groups
-- Deletes the index_groups rows of the years (and schools; NULL: every school) being rescored.
-- parameters: $years, $schools
DELETE FROM index_groups
WHERE list_contains($years, school_year) AND ($schools IS NULL OR list_contains($schools, school_id))

-- @statement delete_schools
-- Deletes the index_schools rows of the years (and schools; NULL: every school) being rescored.
-- parameters: $years, $schools
DELETE FROM index_schools
WHERE list_contains($years, school_year) AND ($schools IS NULL OR list_contains($schools, school_id))

-- @statement insert_points
-- Writes index_points: the rows of kpi/sql/index_refresh_points.sql.
-- parameters: those of index_refresh_points.sql (kpi.catalog.index_rules.maturity_args, $schools)
INSERT INTO index_points
-- @include index_refresh_points

-- @statement insert_groups
-- Writes index_groups: the rows of kpi/sql/index_refresh_groups.sql.
-- parameters: those of index_refresh_groups.sql (kpi.catalog.index_rules.maturity_args, $schools)
INSERT INTO index_groups
-- @include index_refresh_groups

-- @statement insert_schools
-- Writes index_schools: the rows of kpi/sql/index_refresh_schools.sql.
-- parameters: those of index_refresh_schools.sql (kpi.catalog.index_rules.maturity_args, $schools)
INSERT INTO index_schools
-- @include index_refresh_schools

-- @statement mark
-- Writes meta: the rules the stored index was scored by, and index_version 'pending' (kpi.store.db.writing
-- marks it current when it bumps the data version).
-- parameters: $rules (kpi.catalog.index_rules.fingerprint)
INSERT OR REPLACE INTO meta VALUES ('index_rules', $rules), ('index_version', 'pending')

-- @statement count
-- Reads how many school × year rows the stored index holds for the years rescored.
-- parameters: $years
SELECT count(*) FROM index_schools WHERE list_contains($years, school_year)
