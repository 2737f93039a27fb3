"""The DuckDB file: where it is, how to open it for reading, and how to write it safely.

DuckDB lets one process write a file while no other process has it open. The app keeps
read-only connections open, so writers never touch the live file: `writing()` copies it, writes
the copy, and swaps it in with `os.replace` under an exclusive lock. A reader notices the swap by
the file's identity (inode, mtime) and opens the new file; a writer killed half-way leaves the
live file as it was.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import uuid
from pathlib import Path

import duckdb

SCHEMA_VERSION = "1"
ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DB = ROOT / "data" / "kpi.duckdb"
SQL_DIR = Path(__file__).resolve().parent / "sql"

# Never download or auto-load extensions at run time (the app works offline); ICU, JSON and
# Parquet are built into the wheel.
_CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}


def db_path(explicit: str | os.PathLike | None = None) -> Path:
    """The database path: `--db` if given, else $KPI_DB, else data/kpi.duckdb."""
    return Path(explicit or os.environ.get("KPI_DB") or DEFAULT_DB)


def connect(path: str | os.PathLike, read_only: bool = True) -> duckdb.DuckDBPyConnection:
    """Open the file with the project's settings (no extension downloads).

    Read-only connections ATTACH the file to a private in-memory database instead of opening it
    directly: DuckDB keeps one instance per path in a process, so a plain second connect after a
    writer swapped the file in would still read the old file. Use `cursor()` for threads.
    """
    if not read_only:
        return duckdb.connect(str(path), read_only=False, config=dict(_CONFIG))
    if not os.path.exists(path):
        raise duckdb.IOException(f"Không tìm thấy cơ sở dữ liệu {path}")
    con = duckdb.connect(":memory:", config=dict(_CONFIG))
    con.execute(f"ATTACH '{_quote(path)}' AS kpi (READ_ONLY)")
    con.execute("USE kpi")
    return con


def cursor(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A cursor (own connection, for one thread) on a read-only connection, reading the same file."""
    cur = con.cursor()
    cur.execute("USE kpi")
    return cur


def _quote(path) -> str:
    return str(path).replace("'", "''")


def file_identity(path: str | os.PathLike) -> tuple[int, int, int] | None:
    """(inode, mtime_ns, size) of the file, or None when it does not exist: changes on every swap."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def init_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create every table of kpi/sql/schema.sql that does not exist yet."""
    con.execute((SQL_DIR / "schema.sql").read_text(encoding="utf-8"))
    con.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", [SCHEMA_VERSION])
    con.execute("INSERT OR IGNORE INTO meta VALUES ('data_version', '0')")
    con.execute("INSERT OR IGNORE INTO meta VALUES ('is_sample', 'false')")


def set_meta(con: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    """Set one meta key."""
    con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, str(value)])


def bump_data_version(con: duckdb.DuckDBPyConnection) -> None:
    """Mark the data as changed, so that caches keyed by data_version are refreshed.

    The stored index (kpi.derived) follows: it stays current when it was current and this write did
    not touch what it reads, or when this write rescored it ('pending'); otherwise it stays behind
    and readers score live."""
    old = con.execute("SELECT value FROM meta WHERE key = 'data_version'").fetchall()[0][0]
    con.execute(
        "UPDATE meta SET value = CAST(CAST(value AS BIGINT) + 1 AS VARCHAR) WHERE key = 'data_version'"
    )
    con.execute("""UPDATE meta SET value = (SELECT value FROM meta WHERE key = 'data_version')
                   WHERE key = 'index_version' AND value IN ('pending', ?)""", [old])


@contextlib.contextmanager
def _lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(str(path) + ".lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextlib.contextmanager
def writing(path: str | os.PathLike, fresh: bool = False):
    """Yield a read-write connection to a private copy of the file; swap it in on success.

    Writers are serialised by an exclusive lock on ``<path>.lock``, so two imports at once both
    land, one after the other. With ``fresh=True`` the copy starts empty (a new database). On an
    exception the copy is deleted and the live file is untouched.
    """
    path = Path(path)
    with _lock(path):
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            if path.exists() and not fresh:
                shutil.copyfile(path, tmp)
            con = connect(tmp, read_only=False)
            try:
                init_schema(con)
                con.execute("BEGIN")
                yield con
                bump_data_version(con)
                con.execute("COMMIT")
                con.execute("CHECKPOINT")
            except BaseException:
                with contextlib.suppress(Exception):
                    con.execute("ROLLBACK")
                raise
            finally:
                con.close()
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(str(tmp) + ".wal")
