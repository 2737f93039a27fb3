-- kpi.store.db: a version 2 file brought to the roles of version 3 (the role truong_nhap_lieu). DuckDB
-- cannot change a CHECK constraint in place: the users table is renamed, created again from schema.sql's
-- definition, refilled and the old one dropped.

-- @statement rename
-- Renames users to users_v2.
-- parameters: none
ALTER TABLE users RENAME TO users_v2

-- @statement copy
-- Writes every users_v2 row into the new users table.
-- parameters: none
INSERT INTO users SELECT * FROM users_v2

-- @statement drop
-- Drops users_v2.
-- parameters: none
DROP TABLE users_v2
