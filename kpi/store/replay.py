"""A write to the analytics file as a list that another machine can run again (issue 27, item 2).

`kpi.store.db.writing` hands its body a `Recorder` instead of the DuckDB connection: every call goes
through to DuckDB, and what changes the file is noted in order: each statement that is not a plain
read with its parameters, each `executemany` with its rows, and each table registered for those
statements to read (kept as the Arrow table itself; a pandas DataFrame is taken as Arrow). Reads
(SELECT) are not noted: their answers only steer which writes the body makes, and those writes are
noted. `pack` turns the list into bytes (JSON for the statements and values, Arrow IPC with zstd for
the tables); `apply` runs it on another machine's copy of the same starting file, which then holds
the same content (kpi.store.db.fingerprint proves it).

What a write must not do for this to hold: take a value that differs between machines inside SQL
(now(), random(), uuid()): the writers bind such values from Python, and a bound value is recorded.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import io
import json
import struct
import zlib

import duckdb
import pyarrow as pa
import pyarrow.ipc as ipc

MAGIC = b"KPIW1\n"


_CHANGES: dict[str, bool] = {}  # statement text → whether it may change the file (the writers' texts are few)


def changes(query: str, con: duckdb.DuckDBPyConnection) -> bool:
    """Whether a statement text may change the file (anything but plain SELECTs). Parsed by the writer's
    own connection: `duckdb.extract_statements` would open DuckDB's module-wide default connection,
    whose destruction while the interpreter finalizes aborts the process (seen in tests/test_faults.py)."""
    found = _CHANGES.get(query)
    if found is None:
        found = _CHANGES[query] = any(s.type != duckdb.StatementType.SELECT for s in con.extract_statements(query))
    return found


class Recorder:
    """The writer's connection inside `kpi.store.db.writing`: DuckDB's connection, noting every change.

    Only `execute`, `executemany`, `register` and `unregister` are offered (what the writers use); any
    other attribute raises, so that a writer never changes the file in a way the record misses."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self._con = con
        self.ops: list[tuple] = []
        self._pending: dict[str, object] = {}  # registered, not yet noted (no write has read them yet)
        self._noted: set[str] = set()
        self._open = True

    def _check(self) -> None:
        if not self._open:
            raise RuntimeError("kpi.store.db.writing: the writer's connection is used after its write ended")

    def _note(self, op: tuple) -> None:
        for name, obj in self._pending.items():  # a write may read what is registered: the tables go first
            self.ops.append(("register", name, obj))
            self._noted.add(name)
        self._pending.clear()
        self.ops.append(op)

    def execute(self, query: str, parameters=None):
        """DuckDB's execute; the statement and its values noted when it may change the file."""
        self._check()
        if changes(query, self._con):
            self._note(("sql", query, parameters))
        return self._con.execute(query) if parameters is None else self._con.execute(query, parameters)

    def executemany(self, query: str, parameters):
        """DuckDB's executemany, noted with every row."""
        self._check()
        rows = [list(r) if isinstance(r, tuple) else r for r in parameters]
        self._note(("many", query, rows))
        return self._con.executemany(query, rows)

    def register(self, name: str, obj):
        """DuckDB's register (an Arrow table or a DataFrame), noted when a later write may read it."""
        self._check()
        self._noted.discard(name)
        self._pending[name] = obj
        return self._con.register(name, obj)

    def unregister(self, name: str):
        """DuckDB's unregister, noted when the registration was."""
        self._check()
        self._pending.pop(name, None)
        if name in self._noted:
            self._noted.discard(name)
            self.ops.append(("unregister", name))
        return self._con.unregister(name)

    def release(self) -> None:
        """Drop the connection and every object the body registered (the write is over): a DuckDB
        object kept past its connection and destroyed while the interpreter finalizes aborts it."""
        self._open = False
        self._con, self.ops, self._pending = None, [], {}

    def stop(self) -> list[tuple]:
        """End the recording (later use raises); returns the noted operations."""
        self._open = False
        return self.ops

    def __getattr__(self, name: str):
        raise AttributeError(f"kpi.store.db.writing: the writer's connection offers no {name!r} (add it to "
                             "kpi.store.replay.Recorder, noting what it changes, before a writer uses it)")


# ---- values in JSON, tables in Arrow IPC ----------------------------------------------------------

def _enc(v):
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, dt.datetime):
        return {"$": "datetime", "v": dt.datetime.isoformat(v)}
    if isinstance(v, dt.date):
        return {"$": "date", "v": v.isoformat()}
    if isinstance(v, dt.time):
        return {"$": "time", "v": v.isoformat()}
    if isinstance(v, decimal.Decimal):
        return {"$": "decimal", "v": str(v)}
    if isinstance(v, (bytes, bytearray, memoryview)):
        return {"$": "bytes", "v": base64.b64encode(bytes(v)).decode()}
    if isinstance(v, (list, tuple)):
        return [_enc(x) for x in v]
    if isinstance(v, dict):
        return {"$": "map", "v": {str(k): _enc(x) for k, x in v.items()}}
    if type(v).__module__ == "numpy" and hasattr(v, "item"):  # numpy scalars from a DataFrame's cells
        return _enc(v.item())
    raise TypeError(f"kpi.store.replay: a bound value of type {type(v).__name__} cannot be recorded")


_DEC = {"datetime": dt.datetime.fromisoformat, "date": dt.date.fromisoformat, "time": dt.time.fromisoformat,
        "decimal": decimal.Decimal, "bytes": base64.b64decode}


def _dec(v):
    if isinstance(v, list):
        return [_dec(x) for x in v]
    if isinstance(v, dict):
        if v["$"] == "map":
            return {k: _dec(x) for k, x in v["v"].items()}
        return _DEC[v["$"]](v["v"])
    return v


def _arrow(obj) -> pa.Table:
    if isinstance(obj, pa.Table):
        return obj
    if isinstance(obj, pa.RecordBatch):
        return pa.Table.from_batches([obj])
    if hasattr(obj, "to_arrow_table"):  # a DuckDB relation
        return obj.to_arrow_table()
    return pa.Table.from_pandas(obj, preserve_index=False)


def _ipc(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    with ipc.new_stream(sink, table.schema, options=ipc.IpcWriteOptions(compression="zstd")) as w:
        w.write_table(table)
    return sink.getvalue()


def pack(ops: list[tuple]) -> bytes:
    """The operations as bytes: MAGIC, the length of the compressed JSON list, the list, then every
    table as (length, Arrow IPC stream)."""
    blobs: list[bytes] = []
    listed = []
    for op in ops:
        if op[0] == "register":
            blobs.append(_ipc(_arrow(op[2])))
            listed.append(["register", op[1], len(blobs) - 1])
        elif op[0] == "unregister":
            listed.append(list(op))
        else:
            listed.append([op[0], op[1], _enc(op[2])])
    head = zlib.compress(json.dumps(listed, ensure_ascii=False).encode("utf-8"), 6)
    out = [MAGIC, struct.pack(">Q", len(head)), head]
    for b in blobs:
        out += [struct.pack(">Q", len(b)), b]
    return b"".join(out)


def unpack(entry: bytes) -> list[tuple]:
    """The operations `pack` wrote (tables as Arrow tables)."""
    entry = bytes(entry)
    if not entry.startswith(MAGIC):
        raise ValueError("kpi.store.replay: not a recorded write")
    pos = len(MAGIC)
    (n,) = struct.unpack_from(">Q", entry, pos)
    listed = json.loads(zlib.decompress(entry[pos + 8:pos + 8 + n]).decode("utf-8"))
    pos += 8 + n
    blobs = []
    while pos < len(entry):
        (m,) = struct.unpack_from(">Q", entry, pos)
        blobs.append(entry[pos + 8:pos + 8 + m])
        pos += 8 + m
    ops = []
    for op in listed:
        if op[0] == "register":
            ops.append(("register", op[1], ipc.open_stream(pa.BufferReader(blobs[op[2]])).read_all()))
        elif op[0] == "unregister":
            ops.append(tuple(op))
        else:
            ops.append((op[0], op[1], _dec(op[2])))
    return ops


def apply(con: duckdb.DuckDBPyConnection, ops: list[tuple]) -> None:
    """Run recorded operations on a writer connection (inside its transaction), in order."""
    registered = set()
    try:
        for op in ops:
            kind = op[0]
            if kind == "sql":
                if op[2] is None:
                    con.execute(op[1])
                else:
                    con.execute(op[1], op[2])
            elif kind == "many":
                con.executemany(op[1], op[2])
            elif kind == "register":
                con.register(op[1], op[2])
                registered.add(op[1])
            else:
                con.unregister(op[1])
                registered.discard(op[1])
    finally:
        for name in registered:
            con.unregister(name)
