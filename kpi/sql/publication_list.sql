-- one row per publication of the yearly maturity assessment (newest first), or those of one school
-- year; a principal ($school_id set) sees only whether the own school is in it.
-- Parameters: $school_year (NULL = every year), $school_id (NULL = the office).
SELECT p.publication_id, p.school_year, p.published_by, p.published_at, p.schools, p.content_hash,
       ($school_id IS NULL OR EXISTS (SELECT 1 FROM publication_scores s WHERE s.publication_id = p.publication_id
                                     AND s.school_id = $school_id)) AS includes_school
FROM publications p
WHERE $school_year IS NULL OR p.school_year = $school_year
ORDER BY p.school_year DESC, p.published_at DESC
