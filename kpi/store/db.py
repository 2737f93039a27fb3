"""The DuckDB file: where it is, how to open it for reading, and how to write it safely.

DuckDB lets one process write a file while no other process has it open. The app keeps
read-only connections open, so writers never touch the live file: `writing()` copies it, writes
the copy, and swaps it in with `os.replace` under an exclusive lock. A reader notices the swap by
the file's identity (inode, mtime) and opens the new file; a writer killed half-way leaves the
live file as it was.

Several machines (a PostgreSQL store, issue 27): each keeps its own file; a write is recorded
(kpi.store.replay), appended to the store's write log under the cluster's lock before its swap, and
every other machine applies it (`catch_up`), proving by a content fingerprint that it holds the same.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import hashlib
import logging
import os
import re
import shutil
import socket
import threading
import time
import uuid
from functools import lru_cache
from pathlib import Path

import duckdb

from kpi.common import faults
from kpi.store import replay
from kpi.store.paths import DEFAULT_DB, ROOT, db_path  # noqa: F401 - the file's place, imported across the project from here

SCHEMA_VERSION = "4"
SQL_DIR = Path(__file__).resolve().parents[1] / "sql"
WRITE_DIR = SQL_DIR / "write"
# Several machines: the shared write log keeps LOG_KEEP_DAYS of writes (KPI_LOG_DAYS), never fewer than the
# newest LOG_KEEP_MIN; it is trimmed at every LOG_TRIM_EVERY-th write.
LOG_KEEP_DAYS = float(os.environ.get("KPI_LOG_DAYS", "30"))
LOG_KEEP_MIN = 1000
LOG_TRIM_EVERY = 100
_log = logging.getLogger("kpi.store.db")

# Never download or auto-load extensions at run time (the app works offline); ICU, JSON and
# Parquet are built into the wheel. The allocator's background threads give the memory a query freed back
# to the system: without them DuckDB's allocator keeps it, so a worker stayed at the peak of its largest
# query (So sánh's compare_cells nationally: 720 MB of the process after the query, 220 MB with them).
_CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False,
           "allocator_background_threads": True}
# A reader's memory ($KPI_DUCKDB_MB, set by `kpi serve` for its workers; unset: DuckDB's default, 80% of the
# machine): its cache of the file's blocks and its queries' working memory together; a query that needs more
# spills to $KPI_DUCKDB_TMP instead. Nationally the office pages' queries held 400-670 MB for a moment in each
# worker, which made the server's peak (issue 29).
READER_MB_ENV, READER_TMP_ENV = "KPI_DUCKDB_MB", "KPI_DUCKDB_TMP"


def _reader_config() -> dict:
    config = dict(_CONFIG)
    mb = os.environ.get(READER_MB_ENV)
    if mb:
        config["memory_limit"] = f"{int(mb)}MB"
        if os.environ.get(READER_TMP_ENV):
            config["temp_directory"] = spill = os.environ[READER_TMP_ENV]
            # DuckDB makes the folder itself, not its parents; what it spills is the schools' figures (its files
            # get the umask's mode): the folder above is its owner's alone
            Path(spill).parent.mkdir(parents=True, exist_ok=True)
            os.chmod(Path(spill).parent, 0o700)
    return config


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
    con = duckdb.connect(":memory:", config=_reader_config())
    con.execute(f"ATTACH {sql_literal(path)} AS kpi (READ_ONLY)")
    con.execute("USE kpi")
    return con


def cursor(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A cursor (own connection, for one thread) on a read-only connection, reading the same file."""
    cur = con.cursor()
    # no replacement scans: a table missing from an older file is a CatalogException (which the
    # readers of newer tables expect), never a Python variable of the same name picked up instead
    cur.execute("USE kpi; SET python_enable_replacements = false")
    return cur


# A query DuckDB refuses for memory (the reader's bound is shared by the queries of the moment, and a few of
# their parts cannot spill) waits for the others to finish and runs again; at last with the bound lifted on its
# connection (this file version's, in this process): a page never fails for the bound.
OOM_WAITS = (0.25, 1.0)


def within_memory(con: duckdb.DuckDBPyConnection, work):
    """`work(cursor)` on a new cursor of the read-only connection `con`, again after OOM_WAITS when DuckDB refuses
    it for memory, then once more with `con`'s memory bound lifted (DuckDB's default); returns what it returns."""
    for attempt in range(len(OOM_WAITS) + 2):
        cur = cursor(con)
        try:
            return work(cur)
        except duckdb.OutOfMemoryException:
            if attempt > len(OOM_WAITS):
                raise
            if attempt == len(OOM_WAITS):
                _log.warning("Truy vấn vượt giới hạn bộ nhớ DuckDB (%s MB) sau %d lần thử: bỏ giới hạn của kết nối",
                             os.environ.get(READER_MB_ENV), attempt + 1)
                cur.execute("RESET memory_limit")
        finally:
            cur.close()
        if attempt < len(OOM_WAITS):
            time.sleep(OOM_WAITS[attempt])
    raise AssertionError("unreachable")


_readers: dict[str, tuple] = {}
_readers_lock = threading.Lock()


@contextlib.contextmanager
def reading(path: str | os.PathLike):
    """A cursor on the file as it is now, for a short read (a write's checks: who acts, whether a school
    closed): one read-only connection per file version and process, kept while the file is unchanged and
    replaced when its identity changes (every writer swaps a new file in), instead of a connection per read
    (an ATTACH of the national file costs 15-30 ms of CPU; a draft save made two). What it reads is the
    same as a new connection's: the file of that identity."""
    key, identity = str(path), file_identity(path)
    with _readers_lock:
        kept = _readers.get(key)
        if kept is None or kept[0] != identity or identity is None:
            con = connect(path)  # read before the identity changes again: at worst newer than `identity`
            _readers[key] = kept = (identity, con)  # the old connection closes with its last cursor
        cur = cursor(kept[1])
    try:
        yield cur
    finally:
        cur.close()


_PART = re.compile(r"^-- @statement (\w+)\n", re.MULTILINE)
_INCLUDE = re.compile(r"^-- @include ([\w.]+)$", re.MULTILINE)


@lru_cache(maxsize=None)
def statement(name: str) -> str:
    """The text of a writer's statement: ``file`` is kpi/sql/write/<file>.sql, ``file.part`` the part of
    that file that begins with the line ``-- @statement part`` (up to the next such line). A line
    ``-- @include other`` stands for the read query kpi/sql/<other>.sql, ``-- @include file.part`` for
    another statement. Values are always bound as parameters, never spliced in."""
    file, _, part = name.partition(".")
    text = (WRITE_DIR / f"{file}.sql").read_text(encoding="utf-8")
    if part:
        pieces = _PART.split(text)
        text = dict(zip(pieces[1::2], pieces[2::2]))[part]
    return _INCLUDE.sub(lambda m: _included(m.group(1)), text)


def _included(name: str) -> str:
    if "." in name:
        return statement(name)
    return _INCLUDE.sub(lambda m: _included(m.group(1)), (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8"))


def sql_literal(text) -> str:
    """`text` (a path, a catalog's code: never what a user typed) as an SQL string literal, quotes doubled."""
    return "'" + str(text).replace("'", "''") + "'"


def file_identity(path: str | os.PathLike) -> tuple[int, int, int] | None:
    """(inode, mtime_ns, size) of the file, or None when it does not exist: changes on every swap."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def init_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create every table of kpi/sql/schema.sql that does not exist yet; bring a version 1 file to
    the uniqueness rules of version 2, a version 2 file to the roles of version 3, and a version 3 file
    to version 4's order of observations (by period, then school)."""
    con.execute((SQL_DIR / "schema.sql").read_text(encoding="utf-8"))
    con.execute(statement("meta.defaults"), {"schema_version": SCHEMA_VERSION})
    if _meta_value(con, "schema_version") == "1":
        for table in ("observation_history", "criterion_history", "observations", "criterion_scores"):
            con.execute(statement(f"schema_v2.{table}"))
        set_meta(con, "schema_version", "2")
    if _meta_value(con, "schema_version") == "2":
        _rebuild(con, 3)  # users: the role truong_nhap_lieu (a school's data-entry account)
        set_meta(con, "schema_version", "3")
    if _meta_value(con, "schema_version") == "3":
        _rebuild(con, 4)  # observations by period, then school: a school's rows together
        set_meta(con, "schema_version", "4")
    set_meta(con, "schema_sql", schema_fingerprint())


def _meta_value(con, key: str) -> str | None:
    rows = con.execute(statement("meta.value"), {"key": key}).fetchall()
    return rows[0][0] if rows else None


def schema_fingerprint() -> str:
    """A hash of kpi/sql/schema.sql: a file whose meta holds another was made by another version."""
    return hashlib.sha256((SQL_DIR / "schema.sql").read_bytes()).hexdigest()[:16]


def upgrade(path: str | os.PathLike) -> bool:
    """Bring a file made by an older version up to this version's schema (new tables, the macros
    the queries call), once, through the single writer; True when it did. Called at a server's
    start: a file that only ever gets read would otherwise keep its old tables and macros."""
    path = Path(path)
    if not path.exists():
        return False

    def current() -> bool:
        con = connect(path)
        try:
            stored = _meta_value(con, "schema_sql")
        except duckdb.Error:
            stored = None
        finally:
            con.close()
        return stored == schema_fingerprint()

    if current():
        return False
    with _lock(path):  # another process may have upgraded it meanwhile
        if current():
            return False
    with writing(path):  # init_schema runs on the copy; nothing else changes
        pass
    return True


# the tables a version rebuilds and its statements (kpi/sql/write/schema_v3.sql, schema_v4.sql)
_REBUILDS = {3: ("users", "schema_v3.rename", "schema_v3.copy", "schema_v3.drop"),
             4: ("observations", "schema_v4.rename", "schema_v4.copy", "schema_v4.drop")}


def _rebuild(con, version: int) -> None:
    """Rebuild a version's table with schema.sql's definition: renamed, created again, refilled, the old
    one dropped. DuckDB cannot change a CHECK constraint in place (version 3: users' roles), and a
    table's order is the order it was filled in (version 4: observations)."""
    table, rename, copy, drop = _REBUILDS[version]
    text = (SQL_DIR / "schema.sql").read_text(encoding="utf-8")
    create = re.search(rf"CREATE TABLE IF NOT EXISTS {table} \(.*?\n\);", text, re.S).group(0)
    con.execute(statement(rename))
    con.execute(create)
    con.execute(statement(copy))
    con.execute(statement(drop))


def set_meta(con: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    """Set one meta key."""
    con.execute(statement("meta.set"), [key, str(value)])


def bump_data_version(con: duckdb.DuckDBPyConnection) -> None:
    """Mark the data as changed, so that caches keyed by data_version are refreshed.

    The stored index (kpi.store.derived) follows: it stays current when it was current and this write did
    not touch what it reads, or when this write rescored it ('pending'); otherwise it stays behind
    and readers score live."""
    old = _meta_value(con, "data_version")
    con.execute(statement("meta.bump_data_version"))
    con.execute(statement("meta.follow_index"), {"old": old})


_HELD = threading.local()


@contextlib.contextmanager
def _lock(path: Path, cluster: bool = True):
    """The writers' lock of a file (an exclusive flock on ``<path>.lock``), re-entrant within a
    thread: a writer that holds it (kpi.workflows.entry's approval) may open `writing()` inside.

    When the store is shared by several machines (PostgreSQL), a writer (`cluster`) also holds the
    cluster's analytics lock and first brings the file up to the write log's head (`catch_up`), so
    every writer starts from the content of the last write made on any machine."""
    path = Path(path)
    key = str(path.resolve())
    held = getattr(_HELD, "paths", None)
    if held is None:
        held = _HELD.paths = {}
    if key in held:
        if cluster and not held[key]:
            raise RuntimeError("kpi.store.db: a writer inside a lock taken without the cluster's lock")
        yield
        return
    with faults.guarded("tệp số liệu", path):  # a read-only or full disk: the Vietnamese sentence
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(str(path) + ".lock", "a")
    with fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        held[key] = cluster
        try:
            store = shared_store(path) if cluster else None
            if store is None:
                yield
            else:
                with store.analytics_lock():
                    _catch_up(path, store)
                    yield
        finally:
            held.pop(key, None)
            fcntl.flock(fh, fcntl.LOCK_UN)


PRIVATE = 0o600  # the file holds every bcrypt hash and each school's figures: its owner only


def make_private(*paths: str | os.PathLike) -> None:
    """Make files readable and writable by their owner only, whatever the umask (absent ones are skipped)."""
    for p in paths:
        with contextlib.suppress(FileNotFoundError):
            os.chmod(p, PRIVATE)


def open_private(path: str | os.PathLike, mode: str = "wb", **kwargs):
    """Open `path` for writing (created or truncated) with mode 0600 whatever the umask: exports,
    error reports and copies the app writes on disk."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE)
    try:
        os.fchmod(fd, PRIVATE)  # a file that existed keeps its old mode otherwise
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, mode, **kwargs)


def writer_lock(path: str | os.PathLike):
    """Hold the writers' lock of the file (re-entrant in this thread): decisions that must not
    interleave with a write, or with each other, take it around their own writes."""
    return _lock(Path(path))


_COPY = re.compile(r"\.(?P<name>.+)\.[0-9a-f]{32}\.tmp(\.wal)?")


def remove_stale_copies(path: str | os.PathLike) -> list[Path]:
    """Delete the private copies (``.<name>.<hex>.tmp`` and their ``.wal``) that killed writers left
    beside the file; returns what was deleted. Call it only while holding the writers' lock: a live
    writer holds the lock for as long as its copy exists, so every copy found then is stale."""
    path = Path(path)
    removed = []
    for f in path.parent.glob(f".{glob.escape(path.name)}.*.tmp*"):
        m = _COPY.fullmatch(f.name)
        if m and m["name"] == path.name:
            with contextlib.suppress(FileNotFoundError):
                f.unlink()
                removed.append(f)
    return removed


def tidy(path: str | os.PathLike) -> list[Path]:
    """At a server start: remove the copies killed writers left, under the writers' lock (waits for
    a writer at work to finish); returns what was removed."""
    path = Path(path)
    if not path.parent.exists():
        return []
    with _lock(path, cluster=False):
        return remove_stale_copies(path)


@contextlib.contextmanager
def writing(path: str | os.PathLike, fresh: bool = False, _entries: list | None = None):
    """Yield a read-write connection to a private copy of the file; swap it in on success.

    Writers are serialised by an exclusive lock on ``<path>.lock``, so two imports at once both
    land, one after the other. With ``fresh=True`` the copy starts empty (a new database). On an
    exception the copy is deleted and the live file is untouched; a copy left by a writer that was
    killed is deleted by the next writer. A disk that refuses the write (full, read-only) raises
    kpi.common.faults.StoreUnavailable, with the cause logged.

    The connection is a kpi.store.replay.Recorder: what the body changes is noted. When the store is
    shared by several machines (`shared_store`), the write is appended to the cluster's write log
    (with the file's data version, its log seq and the fingerprint of its content, also kept in meta)
    after the copy is committed and before it is swapped in: a machine killed in between catches up
    by replaying it. (`_entries`: `catch_up` applies log entries instead of a body.)
    """
    path = Path(path)
    with _lock(path, cluster=not fresh and _entries is None), faults.guarded("tệp số liệu", path):
        log = None if fresh or _entries is not None else shared_store(path)
        remove_stale_copies(path)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        rec = None
        try:
            if path.exists() and not fresh:
                os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE))  # 0600 before a byte is in
                shutil.copyfile(path, tmp)
            con = connect(tmp, read_only=False)
            make_private(tmp)
            sealed = None
            try:
                init_schema(con)
                con.execute("BEGIN")
                if _entries is not None:
                    yield None
                    _replay(con, path, _entries)
                else:
                    rec = replay.Recorder(con)
                    yield rec
                    ops = rec.stop()
                    bump_data_version(con)
                    if log is not None:
                        sealed = _seal(con)
                    else:
                        con.execute(statement("replica.forget"))
                con.execute("COMMIT")
                make_private(str(tmp) + ".wal")
                con.execute("CHECKPOINT")
            except BaseException:
                with contextlib.suppress(Exception):
                    con.execute("ROLLBACK")
                raise
            finally:
                con.close()
            if sealed is not None:
                log.log_append(*sealed, replay.pack(ops), machine())
                if sealed[0] % LOG_TRIM_EVERY == 0:
                    _trim_log(log)
            faults.point("before_swap")  # with a shared store: after the log took the write
            os.replace(tmp, path)
        finally:
            if rec is not None:  # what the body registered dies with the write, not with the interpreter
                rec.release()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(str(tmp) + ".wal")


# ---- several machines: the write log in the shared store (issue 27) -------------------------------

class Divergence(faults.StoreUnavailable):
    """This machine's analytics file does not follow the cluster's write log (a write that skipped the
    log, an entry altered, a different starting file): never served as if it were the same. A store
    failure to its callers (pages and the CLI show its Vietnamese sentence; nothing is written)."""

    def __init__(self, message: str):
        super().__init__("diverged", None, message)


def shared_store(path: str | os.PathLike):
    """The state store when several machines share it (PostgreSQL, $KPI_STORE): its write log is where
    the analytics file's writes go; None on one machine (SQLite)."""
    if not os.environ.get("KPI_STORE"):  # kpi.store.state.store_url: one machine, the SQLite store
        return None
    # only a shared store needs it; the import check's child went from 189 to 201 MB (its mark: 200) with it on top
    # deferred: kpi.store.state loads psycopg, +12 MB in every process that imports kpi.store.db
    from kpi.store import state

    store = state.store_for(path)
    return store if store.shared else None


def machine() -> str:
    """This machine's name in the write log: $KPI_MACHINE, else the host name."""
    return os.environ.get("KPI_MACHINE") or socket.gethostname()


def fingerprint(con: duckdb.DuckDBPyConnection) -> str:
    """The SHA-256 of the file's content (kpi/sql/write/replica.sql): per table in name order, its
    columns, row count and order-independent sums of its rows' hashes; the same on every machine
    holding the same rows, whatever the file's bytes. The meta key content_sha256 is left out."""
    h = hashlib.sha256()
    con.execute(statement("replica.quiet"))
    for table, columns, doubles in con.execute(statement("replica.tables")).fetchall():
        if table == "meta":
            row = con.execute(statement("replica.digest_meta"), {"skip": "content_sha256"}).fetchall()[0]
        else:
            row = con.execute(statement("replica.digest"), {"table": table, "doubles": doubles}).fetchall()[0]
        h.update(f"{table}\t{columns}\t{row[0]}\t{row[1]}\t{row[2]}\n".encode())
    return h.hexdigest()


def log_seq(con: duckdb.DuckDBPyConnection) -> int:
    """The last entry of the write log the file holds (meta log_seq; 0: none)."""
    return int(_meta_value(con, "log_seq") or 0)


def _seal(con) -> tuple[int, int, str]:
    """Inside a write's transaction: the file's next log seq and its fingerprint into meta; returns
    (seq, data_version, fingerprint) for the log."""
    seq = log_seq(con) + 1
    set_meta(con, "log_seq", seq)
    digest = fingerprint(con)
    set_meta(con, "content_sha256", digest)
    return seq, int(_meta_value(con, "data_version")), digest


def _replay(con, path: Path, entries: list) -> None:
    """Apply log entries in order on a writer's copy: each must follow the file's log seq and give the
    data version it gave its writer; the content's fingerprint is checked after the last of them (one
    fingerprint a batch: a national file's takes seconds; content equal at the end is the same file)."""
    first = entries[0][0]
    for i, (seq, data_version, digest, entry) in enumerate(entries):
        if seq != log_seq(con) + 1:
            raise Divergence(f"Nhật ký ghi chung thiếu lần ghi #{log_seq(con) + 1} (có #{seq}); tệp {path.name} "
                             "không theo kịp được. Báo quản trị hệ thống.")
        try:
            replay.apply(con, replay.unpack(entry))
        except (duckdb.Error, ValueError) as e:  # an entry that does not apply here: not the writer's file
            raise Divergence(f"Tệp số liệu {path.name} khác các máy khác: lần ghi #{seq} của nhật ký ghi chung không "
                             f"áp dụng được ({type(e).__name__}). Chép lại tệp từ một máy đúng, rồi khởi động "
                             "lại.") from e
        bump_data_version(con)
        if i == len(entries) - 1:
            got = _seal(con)
        else:
            set_meta(con, "log_seq", seq)
            got = (seq, int(_meta_value(con, "data_version")), digest)
        if got != (seq, data_version, digest):
            where = f"#{seq}" if seq == first else f"#{first}–#{seq}"
            raise Divergence(f"Tệp số liệu {path.name} khác các máy khác sau lần ghi {where} (dấu vân tay "
                             f"{got[2][:12]} thay vì {digest[:12]}, phiên bản {got[1]} thay vì {data_version}): "
                             "không phục vụ số liệu lệch. Chép lại tệp từ một máy đúng, rồi khởi động lại.")


def file_log_seq(path: str | os.PathLike) -> int:
    """The write log seq the file at `path` holds (0: none, or no file)."""
    if not os.path.exists(path):
        return 0
    con = connect(path)
    try:
        return log_seq(con)
    finally:
        con.close()


def _trim_log(store) -> None:
    """Drop the log's entries older than LOG_KEEP_DAYS, keeping the newest LOG_KEEP_MIN (every machine
    running follows within a second; one stopped for longer is brought back with a good machine's file)."""
    try:
        n = store.log_trim(time.time() - LOG_KEEP_DAYS * 86400, LOG_KEEP_MIN)
    except Exception as e:  # noqa: BLE001 - the write is done and logged; the next trim retries
        _log.warning("Chưa dọn được nhật ký ghi chung: %s", e)
        return
    if n:
        _log.info("Đã dọn %d lần ghi cũ hơn %s ngày khỏi nhật ký ghi chung", n, f"{LOG_KEEP_DAYS:g}")


def _catch_up(path: Path, store, batch: int = 20) -> int:
    have, done = file_log_seq(path), 0
    head = store.log_head()
    if have > head:
        raise Divergence(f"Tệp số liệu {path.name} đã ghi đến lần ghi #{have} nhưng nhật ký ghi chung chỉ có đến "
                         f"#{head}: tệp này không cùng nhật ký với kho dùng chung. Báo quản trị hệ thống.")
    while have < head:
        entries = store.log_after(have, batch)
        if entries and entries[0][0] > have + 1:  # trimmed: what this file lacks is no longer kept
            raise Divergence(
                f"Tệp số liệu {path.name} dừng ở lần ghi #{have}, nhưng nhật ký ghi chung chỉ còn giữ từ lần ghi "
                f"#{entries[0][0]} (các lần ghi cũ hơn {LOG_KEEP_DAYS:g} ngày đã được dọn): máy này đã dừng quá lâu. "
                "Chép tệp số liệu của một máy đang chạy tốt sang máy này rồi khởi động lại (README, Nhiều máy).")
        if not entries:
            break
        with writing(path, _entries=entries):
            pass
        have, done = entries[-1][0], done + len(entries)
    return done


def catch_up(path: str | os.PathLike, store=None) -> int:
    """Bring the file up to the cluster's write log: apply every entry after the file's log seq (in
    copies swapped in whole, each entry's fingerprint checked; a mismatch raises Divergence); returns
    how many. Nothing to do on one machine (0). Takes the file's writers' lock, not the cluster's:
    the entries it applies are final."""
    path = Path(path)
    store = store if store is not None else shared_store(path)
    if store is None or not path.exists():
        return 0
    with _lock(path, cluster=False):
        return _catch_up(path, store)
