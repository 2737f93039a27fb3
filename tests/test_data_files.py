"""What the app writes under data/ never reaches git, and the signing key is readable by its owner only."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from kpi.admin import auth
from kpi.store import db

ROOT = Path(__file__).resolve().parents[1]
# data/ files the app writes that the test cannot make by running the app: the workflow state store
# (SQLite WAL beside the DuckDB file) and the files of `python -m kpi serve` (nginx, workers).
LATER_FILES = ["data/kpi.state.sqlite", "data/kpi.state.sqlite-wal", "data/kpi.state.sqlite-shm",
               "data/run/nginx.conf", "data/run/nginx.pid", "data/bench/kpi_53000x5.duckdb"]
# The rules before data/.kpi_secret was ignored: the planted violation the check must catch.
OLD_RULES = "data/*.duckdb\ndata/*.duckdb.wal\ndata/*.lock\ndata/.*.tmp\ndata/bench/\n"


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout


def committable_data_files(repo: Path) -> list[str]:
    """Files under data/ that `git add .` would pick up (untracked and not ignored)."""
    return sorted(p for p in _git(repo, "ls-files", "--others", "--exclude-standard", "data").splitlines())


def _data_files_of_the_app(repo: Path) -> list[str]:
    """Make, in repo/data, the files the app writes there (the database, its lock, the signing key,
    the temporary copy and the WALs as they exist while a write is under way) plus LATER_FILES;
    return what git would commit under data/, during the write and after it."""
    data = repo / "data"
    data.mkdir()
    (data / ".gitkeep").touch()
    for name in LATER_FILES:
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).touch()
    auth.secret_key(data / ".kpi_secret")
    with db.writing(data / "kpi.duckdb"):
        tmp = next(data.glob(".kpi.duckdb.*.tmp"))  # the copy being written
        for wal in (Path(f"{tmp}.wal"), data / "kpi.duckdb.wal"):  # DuckDB's WAL beside a file it writes
            wal.touch()
        assert (data / "kpi.duckdb.lock").exists()
        during = committable_data_files(repo)
    return during + committable_data_files(repo)


@pytest.fixture()
def repo(tmp_path, monkeypatch) -> Path:
    monkeypatch.delenv("KPI_SECRET", raising=False)
    r = tmp_path / "repo"
    r.mkdir()
    _git(r, "init", "-q")
    return r


def test_git_ignores_every_file_the_app_writes_under_data(repo):
    shutil.copyfile(ROOT / ".gitignore", repo / ".gitignore")
    assert set(_data_files_of_the_app(repo)) == {"data/.gitkeep"}


def test_the_check_catches_a_gitignore_that_lets_the_key_through(repo):
    (repo / ".gitignore").write_text(OLD_RULES)
    leaked = set(_data_files_of_the_app(repo))
    assert {"data/.kpi_secret", "data/kpi.state.sqlite", "data/run/nginx.pid"} <= leaked
    assert any(n.endswith(".tmp.wal") for n in leaked)  # the temporary copy's WAL


def owner_only(path: Path) -> bool:
    """True when neither group nor others may read, write or run the file."""
    return stat.S_IMODE(path.stat().st_mode) & 0o077 == 0


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077])
def test_signing_key_file_is_readable_by_its_owner_only(tmp_path, monkeypatch, umask):
    monkeypatch.delenv("KPI_SECRET", raising=False)
    path = tmp_path / "data" / ".kpi_secret"
    old = os.umask(umask)
    try:
        key = auth.secret_key(path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and owner_only(path)
    assert len(key) == 32 and auth.secret_key(path) == key  # created once, then read


def test_owner_only_flags_a_file_anyone_may_read(tmp_path):
    path = tmp_path / "khoa"
    old = os.umask(0)
    try:
        path.write_bytes(b"x")  # plain open(): 0o666 under umask 0
    finally:
        os.umask(old)
    assert not owner_only(path)
