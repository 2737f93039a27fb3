-- audit: one row per audited action (who, what, when, from where); written in the transaction of the
-- change it records (kpi.store.state.audit_in), read newest first.

-- name: add
-- one new row.
-- Parameters: :at, :user_name, :action, :detail (JSON or NULL), :client
INSERT INTO audit (at, user_name, action, detail, client) VALUES (:at, :user_name, :action, :detail, :client);

-- name: newest
-- one row per audited action, newest first, of one action or (NULL) of every action.
-- Parameters: :action (NULL = every action), :limit
SELECT at, user_name, action, detail, client FROM audit WHERE :action IS NULL OR action = :action
ORDER BY audit_id DESC LIMIT :limit;

-- name: of_actions
-- one row per audited action among a list, newest first.
-- Parameters: :actions (JSON list of action names), :limit
SELECT at, user_name, action, detail FROM audit WHERE action IN (SELECT value FROM json_each(:actions))
ORDER BY audit_id DESC LIMIT :limit;

-- name: of_assessment
-- one row per audited action of the maturity assessment, newest first: the actions listed, and the
-- refusals (tu_choi) of an assessment action.
-- Parameters: :actions (JSON list of action names), :limit
SELECT at, user_name, action, detail FROM audit
WHERE action IN (SELECT value FROM json_each(:actions)) OR (action = 'tu_choi' AND detail LIKE '%danh_gia%')
ORDER BY audit_id DESC LIMIT :limit;

-- name: of_admin
-- one row per audited action of Quản trị (actions starting with 'qt_'), newest first.
-- Parameters: :limit
SELECT at, user_name, action, detail FROM audit WHERE action LIKE 'qt\_%' ESCAPE '\'
ORDER BY audit_id DESC LIMIT :limit;

-- name: count
-- one row: how many audit rows one action has.
-- Parameters: :action
SELECT count(*) FROM audit WHERE action = :action;
