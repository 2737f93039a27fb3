-- audit on PostgreSQL: the statements of kpi/sql/state/audit.sql whose SQLite text PostgreSQL does not run
-- (json_each over a JSON list; a NULL parameter's type, which PostgreSQL cannot guess).

-- name: newest
-- one row per audited action, newest first, of one action or (NULL) of every action.
-- Parameters: :action (NULL = every action), :limit
SELECT at, user_name, action, detail, client FROM audit WHERE CAST(:action AS TEXT) IS NULL OR action = :action
ORDER BY audit_id DESC LIMIT :limit;

-- name: of_actions
-- one row per audited action among a list, newest first.
-- Parameters: :actions (JSON list of action names), :limit
SELECT at, user_name, action, detail FROM audit
WHERE action IN (SELECT json_array_elements_text(CAST(:actions AS JSON)))
ORDER BY audit_id DESC LIMIT :limit;

-- name: of_assessment
-- one row per audited action of the maturity assessment, newest first: the actions listed, and the
-- refusals (tu_choi) of an assessment action.
-- Parameters: :actions (JSON list of action names), :limit
SELECT at, user_name, action, detail FROM audit
WHERE action IN (SELECT json_array_elements_text(CAST(:actions AS JSON)))
   OR (action = 'tu_choi' AND detail LIKE '%danh_gia%')
ORDER BY audit_id DESC LIMIT :limit;
