"""A worker's DuckDB readers are bounded (issue 29: the national server's peak was the office queries' working
memory, 400-670 MB a worker for a moment): the bound holds the cache and the queries together, a query that
needs more spills to the worker's folder, and one DuckDB still refuses runs again, at last unbounded: a page
never fails for the bound."""

from __future__ import annotations

import logging

import duckdb
import pytest

from kpi.serving import serve
from kpi.store import db, queries

# grouped lists cannot spill: 20 million numbers need about 160 MB at once
UNSPILLABLE = ("SELECT count(*) AS n, sum(len(l)) AS items "
               "FROM (SELECT i % 10 AS g, list(i) AS l FROM range(20000000) t(i) GROUP BY g)")
# a large grouping spills: 3 million groups of text
SPILLABLE = ("SELECT count(*) AS n, sum(c) AS rows "
             "FROM (SELECT i % 3000000 AS g, count(*) AS c, max(i::VARCHAR) AS m FROM range(6000000) t(i) GROUP BY g)")


def _setting(cur, name: str) -> str:
    return cur.execute("SELECT current_setting($n)", {"n": name}).fetchall()[0][0]


@pytest.fixture()
def bounded(sample_db, monkeypatch, tmp_path):
    """A reader of the sample file as a worker of `kpi serve` opens it, with a bound of `mb` MB."""
    def connect(mb: int):
        monkeypatch.setenv(db.READER_MB_ENV, str(mb))
        monkeypatch.setenv(db.READER_TMP_ENV, str(tmp_path / "run" / "spill" / "41001"))
        return db.connect(sample_db)

    return connect


def test_a_reader_is_bounded_and_a_large_query_spills_to_the_workers_folder(bounded, tmp_path):
    con = bounded(64)
    cur = db.cursor(con)
    assert _setting(cur, "memory_limit").startswith("61.0 MiB")
    assert _setting(cur, "temp_directory") == str(tmp_path / "run" / "spill" / "41001")
    assert (tmp_path / "run" / "spill").stat().st_mode & 0o777 == 0o700  # the figures it spills: the owner's alone
    assert cur.execute(SPILLABLE).fetchall() == [(3000000, 6000000)]
    # the same figures the file's readers give without a bound
    plain = duckdb.connect(":memory:")
    assert plain.execute(SPILLABLE).fetchall() == [(3000000, 6000000)]
    cur.close()
    con.close()
    assert not (tmp_path / "run" / "spill" / "41001").exists()  # DuckDB removes its folder when the reader closes


def test_without_the_setting_a_reader_has_duckdbs_own_bound(sample_db, monkeypatch):
    monkeypatch.delenv(db.READER_MB_ENV, raising=False)
    cur = db.cursor(db.connect(sample_db))
    assert "GiB" in _setting(cur, "memory_limit")


def test_a_query_refused_for_memory_runs_again_and_at_last_unbounded(bounded, monkeypatch, caplog):
    monkeypatch.setattr(db, "OOM_WAITS", (0.01, 0.01))
    con = bounded(20)
    planted = db.cursor(con)
    with pytest.raises(duckdb.OutOfMemoryException):  # planted: the bare cursor fails the page
        planted.execute(UNSPILLABLE).fetchall()
    planted.close()
    tries = []

    def work(cur):
        tries.append(_setting(cur, "memory_limit"))
        return cur.execute(UNSPILLABLE).fetchall()

    with caplog.at_level(logging.WARNING, logger="kpi.store.db"):
        assert db.within_memory(con, work) == [(10, 20000000)]
    assert len(tries) == 4 and tries[:3] == [tries[0]] * 3 and tries[0].startswith("19.0 MiB")
    assert "GiB" in tries[3]
    assert "giới hạn bộ nhớ" in caplog.text


def test_a_query_refused_once_runs_again_within_the_bound(bounded, monkeypatch):
    """The usual case: another query held the memory for a moment; the bound stays."""
    monkeypatch.setattr(db, "OOM_WAITS", (0.01, 0.01))
    con = bounded(64)
    tries = []

    def work(cur):
        tries.append(1)
        if len(tries) == 1:
            raise duckdb.OutOfMemoryException("Out of Memory Error: held by another query")
        return cur.execute("SELECT count(*) FROM schools").fetchall()

    assert db.within_memory(con, work)[0][0] > 0
    assert len(tries) == 2
    assert _setting(db.cursor(con), "memory_limit").startswith("61.0 MiB")


def test_named_queries_run_within_the_bound(bounded):
    con = bounded(64)
    assert not queries.periods(con).empty
    assert queries.unit_observations(con, None).num_rows > 0


def test_serve_bounds_each_workers_readers_and_spills_to_its_own_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("KPI_DUCKDB_MB", raising=False)
    s = serve.Server(port=8599, workers=2, db_path=tmp_path / "kpi.duckdb", run_dir=tmp_path / "run", nginx=None)
    a, b = s._env(0, 41001), s._env(1, 41002)
    assert a["KPI_DUCKDB_MB"] == b["KPI_DUCKDB_MB"] == str(serve.READER_MB)
    assert a["KPI_DUCKDB_TMP"] == str(tmp_path / "run" / "spill" / "41001") != b["KPI_DUCKDB_TMP"]
    monkeypatch.setenv("KPI_DUCKDB_MB", "500")  # the operator's own bound wins
    assert s._env(0, 41001)["KPI_DUCKDB_MB"] == "500"
