"""Where the project and its database file are, without importing DuckDB (the supervisor of
`kpi serve` needs only this; kpi.store.db re-exports it)."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DB = ROOT / "data" / "kpi.duckdb"


def db_path(explicit: str | os.PathLike | None = None) -> Path:
    """The database path: `--db` if given, else $KPI_DB, else data/kpi.duckdb."""
    return Path(explicit or os.environ.get("KPI_DB") or DEFAULT_DB)
