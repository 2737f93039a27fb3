"""Files the app writes are readable by their owner only (issue 24 item 9, first half).

The DuckDB file holds every bcrypt hash, the state store every session and evidence file: after each
write they (and the WAL / -wal / -shm beside them) and the exports written on disk are mode 0600,
whatever the umask. Each check is run once as shipped and once with a planted defect (the private
mode made permissive) that it must catch.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from kpi.store import db, state


@pytest.fixture(params=[0o022, 0o002], ids=["umask022", "umask002"])
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def loose(*paths) -> list[str]:
    """The files among `paths` that exist and are not mode 0600."""
    return [f"{Path(p).name}: {oct(stat.S_IMODE(os.stat(p).st_mode))}" for p in paths
            if os.path.exists(p) and stat.S_IMODE(os.stat(p).st_mode) != 0o600]


def write_everything(tmp: Path, source: Path) -> list[Path]:
    """One write of each kind the app makes; returns the files they leave."""
    copy = tmp / "kpi.duckdb"
    copy.write_bytes(source.read_bytes())  # as a copy made by hand: the umask's mode
    with db.writing(copy) as con:
        db.set_meta(con, "kiem_tra", "1")
    fresh = tmp / "moi.duckdb"
    with db.writing(fresh, fresh=True) as con:
        db.set_meta(con, "kiem_tra", "1")
    store = state.Store(state.state_path(copy))
    store.audit("kiem_tra", "lanhdao", {"a": 1})
    store.copy_to(tmp / "ban_sao.state.sqlite")
    old_export = tmp / "xuat.xlsx"
    old_export.write_bytes(b"cu")  # an earlier export, made before: overwritten, it becomes private too
    with db.open_private(old_export) as f:
        f.write(b"PK moi")
    with db.open_private(tmp / "loi.xlsx") as f:
        f.write(b"PK")
    files = [copy, fresh, store.path, tmp / "ban_sao.state.sqlite", old_export, tmp / "loi.xlsx"]
    files += [Path(f"{p}{suffix}") for p in (copy, fresh) for suffix in (".wal",)]
    files += [Path(f"{store.path}{suffix}") for suffix in ("-wal", "-shm")]
    assert Path(f"{store.path}-wal").exists() and Path(f"{store.path}-shm").exists()
    return files


def test_files_are_private_after_writes(sample_db, tmp_path, umask):
    files = write_everything(tmp_path, sample_db)
    assert loose(*files) == []


def test_planted_permissive_mode_is_caught(sample_db, tmp_path, umask, monkeypatch):
    monkeypatch.setattr(db, "PRIVATE", 0o666)
    monkeypatch.setattr(state, "PRIVATE", 0o666)
    bad = loose(*write_everything(tmp_path, sample_db))
    names = {b.split(":")[0] for b in bad}
    assert {"kpi.duckdb", "moi.duckdb", "kpi.state.sqlite", "kpi.state.sqlite-wal", "xuat.xlsx"} <= names, bad
