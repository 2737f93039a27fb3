-- analytics_log: the analytics file's write log (kpi.store.db, issue 27): one row per write, in order,
-- appended by the writer that holds the cluster's analytics lock, read by every machine to catch up.

-- name: append
-- one new entry of the log (a seq already there is refused: two writers never take the same place).
-- Parameters: :seq, :data_version, :content_sha256, :entry, :created_at, :machine
INSERT INTO analytics_log (seq, data_version, content_sha256, entry, created_at, machine)
VALUES (:seq, :data_version, :content_sha256, :entry, :created_at, :machine);

-- name: head
-- one row: the newest entry's seq (0 when the log is empty).
SELECT coalesce(max(seq), 0) FROM analytics_log;

-- name: after
-- the entries after :after, oldest first, at most :limit of them (each with its write).
-- Parameters: :after, :limit
SELECT seq, data_version, content_sha256, entry FROM analytics_log WHERE seq > :after ORDER BY seq LIMIT :limit;

-- name: last
-- at most one row: the newest entry, without its write (seq, data version, fingerprint, when, where).
SELECT seq, data_version, content_sha256, created_at, machine FROM analytics_log ORDER BY seq DESC LIMIT 1;

-- name: trim
-- drop the entries written before :before, always keeping the newest :keep (a machine further behind
-- than what is kept copies a good machine's file: README "Nhiều máy").
-- Parameters: :before, :keep
DELETE FROM analytics_log
WHERE created_at < :before AND seq <= (SELECT coalesce(max(seq), 0) FROM analytics_log) - :keep;

-- name: first
-- one row: the oldest entry's seq still in the log (0 when the log is empty).
SELECT coalesce(min(seq), 0) FROM analytics_log;
