-- kpi.workflows.publication: a school year's maturity results published: the schools' criterion entries
-- replaced (what they replace kept in criterion_history under one imports row, source 'danh_gia') and
-- the rows frozen in publication_scores with a content hash in publications.

-- @statement count
-- Reads how many publications the school year has (the new one's number follows).
-- parameters: school_year
SELECT count(*) FROM publications WHERE school_year = ?

-- @statement next_import
-- Reads the next import id.
-- parameters: none
SELECT coalesce(max(import_id), 0) + 1 FROM imports

-- @statement stored
-- Reads one criterion entry as stored (what a publication replaces).
-- parameters: school_id, school_year, criterion_code
SELECT self_points, self_met, verified_points, verified_met, evidence_url, import_id
FROM criterion_scores WHERE school_id = ? AND school_year = ? AND criterion_code = ?

-- @statement keep
-- Writes criterion_history: the entry a publication replaces.
-- parameters: import_id, school_id, school_year, criterion_code, old_self_points, old_self_met,
--   old_verified_points, old_verified_met, old_evidence_url, old_import, existed
INSERT INTO criterion_history VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)

-- @statement remove
-- Deletes one criterion entry (replaced next by `put`).
-- parameters: school_id, school_year, criterion_code
DELETE FROM criterion_scores WHERE school_id = ? AND school_year = ? AND criterion_code = ?

-- @statement put
-- Writes criterion_scores: the published entry (evidence: in the app's yearly assessment).
-- parameters: school_id, school_year, criterion_code, self_points, self_met, verified_points,
--   verified_met, import_id
INSERT INTO criterion_scores VALUES (?, ?, ?, ?, ?, ?, ?, 'minh chứng trong ứng dụng (đánh giá năm học)', ?)

-- @statement record
-- Writes imports: the publication's import row (source 'danh_gia', applied).
-- parameters: import_id, user_name, started_at, finished_at, file_name, sha256, rows, values_changed
INSERT INTO imports VALUES (?, ?, ?, ?, ?, ?, 'danh_gia', ?, ?, 'applied')

-- @statement freeze
-- Writes publication_scores: one published row.
-- parameters: publication_id, school_id, school_year, criterion_code, self_points, self_met,
--   verified_points, verified_met
INSERT INTO publication_scores VALUES (?, ?, ?, ?, ?, ?, ?, ?)

-- @statement rows
-- Reads a publication's rows in a canonical order (what its content hash is taken over).
-- parameters: publication_id
SELECT * EXCLUDE (publication_id) FROM publication_scores WHERE publication_id = ? ORDER BY ALL

-- @statement publish
-- Writes publications: the publication, its import (NULL when no entry changed) and content hash.
-- parameters: publication_id, school_year, published_by, published_at, schools, import_id, content_hash
INSERT INTO publications VALUES (?, ?, ?, ?, ?, ?, ?)
