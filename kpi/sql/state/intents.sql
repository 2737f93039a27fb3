-- intents: one row per write that spans this store and the analytics file (kpi.store.recovery):
-- recorded 'cho' before the analytics file is written, then 'xong' (done) or 'huy' (dropped).

-- name: add
-- one new pending intent.
-- Parameters: :intent_id, :kind ('duyet', 'cong_bo', 'hoan_tac'), :user_name, :keys (JSON), :now
INSERT INTO intents VALUES (:intent_id, :kind, :user_name, :keys, 'cho', :now, NULL, NULL);

-- name: get
-- at most one row: what an intent is and where it stands.
-- Parameters: :intent_id
SELECT kind, user_name, keys, state FROM intents WHERE intent_id = :intent_id;

-- name: done
-- the intent done, with what the analytics write returned.
-- Parameters: :intent_id, :now, :result (JSON)
UPDATE intents SET state = 'xong', done_at = :now, result = :result WHERE intent_id = :intent_id;

-- name: drop
-- a pending intent dropped (its analytics write did not land).
-- Parameters: :intent_id, :now
UPDATE intents SET state = 'huy', done_at = :now WHERE intent_id = :intent_id AND state = 'cho';

-- name: pending
-- one row per pending intent, oldest first.
SELECT intent_id, kind, user_name, keys FROM intents WHERE state = 'cho' ORDER BY created_at, rowid;
