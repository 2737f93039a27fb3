-- counters: one row per named version ('workflow': the schools' entries; 'assessment': the yearly
-- maturity assessment), bumped in the transaction of every change readers cache by.

-- name: bump
-- the counter +1 (created at 1).
-- Parameters: :name
INSERT INTO counters VALUES (:name, 1) ON CONFLICT (name) DO UPDATE SET value = counters.value + 1;

-- name: value
-- at most one row: the counter's value (none = 0).
-- Parameters: :name
SELECT value FROM counters WHERE name = :name;
