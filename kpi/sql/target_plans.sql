-- one row per published version of a school year's targets, newest year and version first
SELECT p.school_year, p.version, p.document, p.source_year, p.published_by, p.published_at,
       (SELECT count(*) FROM plan_targets t WHERE t.school_year = p.school_year AND t.version = p.version) AS targets,
       p.version = max(p.version) OVER (PARTITION BY p.school_year) AS in_force
FROM target_plans p
ORDER BY p.school_year DESC, p.version DESC
