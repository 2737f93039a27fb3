-- kpi.imports: what a school's file is checked against before it is written (the schools, the
-- periods, the published results, the imports already made).

-- @statement schools
-- Reads every school's code and level.
-- parameters: none
SELECT school_id, level FROM schools

-- @statement periods
-- Reads every reporting period.
-- parameters: none
SELECT school_year, round FROM periods

-- @statement school_names
-- Reads every school's code and name (the preview's table).
-- parameters: none
SELECT school_id, name FROM schools

-- @statement published
-- Reads the schools and publications whose results of the school years $years the Phòng published.
-- parameters: $years
SELECT DISTINCT school_id, school_year, publication_id FROM publication_scores WHERE list_contains($years, school_year)

-- @statement imported_before
-- Reads how many imports of a file (source 'import') had the same SHA-256.
-- parameters: sha256
SELECT count(*) FROM imports WHERE sha256 = ? AND source = 'import'

-- @statement prior
-- Reads the newest applied import of a file with the same SHA-256 (its id and start).
-- parameters: sha256
SELECT import_id, started_at FROM imports WHERE sha256 = ? AND source = 'import' AND status = 'applied'
ORDER BY import_id DESC LIMIT 1
