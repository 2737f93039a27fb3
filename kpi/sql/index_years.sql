-- one row per school year that has maturity-index entries, newest first
SELECT DISTINCT school_year FROM criterion_scores ORDER BY school_year DESC
