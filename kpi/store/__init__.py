"""The stores: the DuckDB file (connections, the single writer's lock, the schema), the read queries
(one per .sql file under kpi/sql/, scoped by the caller), the derived tables the writers keep, the
shared state store (SQLite), and the intent log that finishes writes spanning both.
"""
