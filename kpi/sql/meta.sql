-- one row per meta key (database facts: sample flag, unit name, data version)
SELECT key, value FROM meta
