-- one row per ward among the active schools in scope (choices for the ward filter)
SELECT DISTINCT ward FROM scope_schools($unit_id) ORDER BY ward COLLATE vi
