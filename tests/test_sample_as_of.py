"""The sample as of a day (`init --sample --as-of`): it lives in that day's school year, its open round's
deadline is ahead, only part of the schools have submitted, nothing is dated on or after that day, the
rounds not opened yet are absent, and the default sample (2023-2024, pinned by every other test) is
unchanged. Each property is paired with a planted violation that its check catches."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import sqlite3

import duckdb
import numpy as np
import pytest
from conftest import app_test

from kpi.cli import main
from kpi.store import state
from kpi.tools import sample_clock
from kpi.tools.sample import build_sample

AS_OF = dt.date(2026, 12, 6)
VN = dt.timezone(dt.timedelta(hours=7))
DEFAULT_PERIODS = [("2021-2022", "HK1", dt.date(2022, 1, 10)), ("2021-2022", "CN", dt.date(2022, 5, 20)),
                   ("2022-2023", "HK1", dt.date(2023, 1, 10)), ("2022-2023", "CN", dt.date(2023, 5, 20)),
                   ("2023-2024", "HK1", dt.date(2024, 1, 10)), ("2023-2024", "CN", dt.date(2024, 5, 20))]
# the default sample's figures and arrivals, hashed from the generator as it was before the as-of option
DEFAULT_OBSERVATIONS = (9961, "c1e50f25bfd02714")
DEFAULT_SUBMISSIONS = (293, "d6e5d0a896778c4c")


def _build(path, as_of=AS_OF):
    build_sample(path, schools=53, years=3, seed=7, as_of=as_of)
    return path


@pytest.fixture(scope="module")
def asof_db(tmp_path_factory):
    """The district sample as of 06/12/2026, built once for this module, never written by its tests."""
    return _build(tmp_path_factory.mktemp("asof") / "asof.duckdb")


def _read(path, sql, params=()):
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def _state_rows(path, sql, params=()):
    con = sqlite3.connect(f"file:{state.store_for(path).path}?mode=ro", uri=True)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def _order(period):
    return period[0], period[1] == "CN"


def _periods(path):
    return sorted(_read(path, "SELECT school_year, round, deadline FROM periods"), key=_order)


# ---- the checks (written from the brief, not from the generator) -------------------------------------------------

def period_problems(path, as_of: dt.date) -> list[str]:
    """The newest school year is as_of's (September to August) and no round that opens after as_of
    (HK1 on 01/09, CN on 11/01) is present."""
    start = as_of.year if as_of.month >= 9 else as_of.year - 1
    periods = _periods(path)
    out = []
    if periods[-1][0] != f"{start}-{start + 1}":
        out.append(f"năm học mới nhất {periods[-1][0]}, không phải {start}-{start + 1}")
    for y, r, _ in periods:
        opens = dt.date(int(y[:4]), 9, 1) if r == "HK1" else dt.date(int(y[5:]), 1, 11)
        if opens > as_of:
            out.append(f"kỳ {y} {r} chưa mở ({opens}) mà đã có")
    return out


def deadline_problems(path, as_of: dt.date) -> list[str]:
    """The newest round's deadline is still ahead of as_of."""
    y, r, deadline = _periods(path)[-1]
    return [] if deadline >= as_of else [f"hạn của kỳ mới nhất {y} {r} ({deadline}) đã qua"]


def late_times(path, as_of: dt.date) -> list[str]:
    """Every stored moment on or after as_of, in the DuckDB file (TIMESTAMP columns) and the state
    store (REAL columns named at, *_at, last_seen); empty when nothing happened after that day."""
    cutoff = dt.datetime.combine(as_of, dt.time())
    out = []
    cols = _read(path, "SELECT table_name, column_name FROM information_schema.columns "
                       "WHERE table_schema = 'main' AND data_type LIKE 'TIMESTAMP%'")
    assert len(cols) >= 8  # the scan is not empty by accident
    for t, c in cols:
        n = _read(path, f'SELECT count(*) FROM "{t}" WHERE "{c}" >= ?', [cutoff])[0][0]
        if n:
            out.append(f"tệp DuckDB: {t}.{c} có {n} thời điểm sau ngày {as_of}")
    ts = cutoff.replace(tzinfo=VN).timestamp()
    tables = [t for (t,) in _state_rows(path, "SELECT name FROM sqlite_master WHERE type = 'table'")]
    scanned = 0
    for t in tables:
        for _, c, typ, *_ in _state_rows(path, f'PRAGMA table_info("{t}")'):
            if typ == "REAL" and (c == "at" or c.endswith("_at") or c == "last_seen"):
                scanned += 1
                n = _state_rows(path, f'SELECT count(*) FROM "{t}" WHERE "{c}" >= ?', (ts,))[0][0]
                if n:
                    out.append(f"kho trạng thái: {t}.{c} có {n} thời điểm sau ngày {as_of}")
    assert scanned >= 10
    return out


def share_problems(path) -> list[str]:
    """In the newest round a realistic part of the schools have submitted (by file or in the app), and the
    others have no figures at all (missing, never zero)."""
    y, r, _ = _periods(path)[-1]
    n = _read(path, "SELECT count(*) FROM schools")[0][0]
    files = {s for (s,) in _read(path, "SELECT school_id FROM submissions WHERE school_year = ? AND round = ?", [y, r])}
    app = {s for (s,) in _state_rows(path, "SELECT school_id FROM entries WHERE school_year = ? AND round = ? "
                                           "AND first_submitted_at IS NOT NULL", (y, r))}
    figures = {s for (s,) in _read(path, "SELECT DISTINCT school_id FROM observations WHERE school_year = ? "
                                         "AND round = ?", [y, r])}
    out = []
    so_far = len(files | app)
    if not 0.15 * n <= so_far <= 0.6 * n:
        out.append(f"{so_far}/{n} trường đã nộp kỳ {y} {r}: không phải một phần hợp lý")
    if figures - files:
        out.append(f"có số liệu mà không có lượt nộp: {sorted(figures - files)}")
    return out


def default_problems(path) -> list[str]:
    """The default sample as every other test pins it: the same periods, figures and arrivals."""
    out = []
    if _periods(path) != sorted(DEFAULT_PERIODS, key=_order):
        out.append(f"kỳ báo cáo khác: {_periods(path)}")
    for sql, pinned in (("SELECT school_id, school_year, round, field_code, value FROM observations ORDER BY ALL",
                         DEFAULT_OBSERVATIONS),
                        ("SELECT school_id, school_year, round, received_at, source FROM submissions ORDER BY ALL",
                         DEFAULT_SUBMISSIONS)):
        rows = _read(path, sql)
        got = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest()[:16])
        if got != pinned:
            out.append(f"{sql.split()[-3]}: {got} ≠ {pinned}")
    if _read(path, "SELECT count(*) FROM meta WHERE key = 'sample_as_of'")[0][0]:
        out.append("mẫu mặc định ghi sample_as_of")
    return out


# ---- the properties and their planted violations -----------------------------------------------------------------

def test_newest_school_year_is_as_of_s_and_unopened_rounds_absent(asof_db):
    assert period_problems(asof_db, AS_OF) == []
    assert [p[:2] for p in _periods(asof_db)] == [("2024-2025", "HK1"), ("2024-2025", "CN"), ("2025-2026", "HK1"),
                                                  ("2025-2026", "CN"), ("2026-2027", "HK1")]


def test_planted_unopened_round_is_caught(tmp_path, monkeypatch):
    monkeypatch.setattr(sample_clock.Clock, "started", lambda self, y, r: True)  # 2026-2027 CN would exist
    problems = period_problems(_build(tmp_path / "p.duckdb"), AS_OF)
    assert any("2026-2027 CN chưa mở" in p for p in problems), problems


def test_open_round_deadline_is_ahead(asof_db):
    assert deadline_problems(asof_db, AS_OF) == []
    assert _periods(asof_db)[-1] == ("2026-2027", "HK1", dt.date(2027, 1, 10))


def test_planted_stale_sample_deadline_is_caught(sample_db):
    # what issue 25 saw: the fixed sample met on 06/12/2026, its deadline 20/05/2024 long past
    assert deadline_problems(sample_db, AS_OF) and period_problems(sample_db, AS_OF)


def test_nothing_dated_on_or_after_as_of(asof_db):
    assert late_times(asof_db, AS_OF) == []


def test_planted_workflow_times_at_the_deadline_are_caught(tmp_path, monkeypatch):
    # entries and assessments counted back from their real deadlines (January / May 2027): the state store
    monkeypatch.setattr(sample_clock.Clock, "work_ref", lambda self, end, days: end)
    monkeypatch.setattr(sample_clock.Clock, "squeeze", lambda self, since, *parts: [rows for rows, _ in parts])
    problems = late_times(_build(tmp_path / "p.duckdb"), AS_OF)
    assert any(p.startswith("kho trạng thái: entries.") for p in problems), problems
    assert any(p.startswith("kho trạng thái: audit.at") for p in problems), problems


def test_planted_files_not_yet_arrived_are_caught(tmp_path, monkeypatch):
    # every file kept, arrived or not: the DuckDB file's submissions
    monkeypatch.setattr(sample_clock.Clock, "before", property(lambda self: dt.datetime(2100, 1, 1)))
    problems = late_times(_build(tmp_path / "p.duckdb"), AS_OF)
    assert any(p.startswith("tệp DuckDB: submissions.received_at") for p in problems), problems


def early_entries(path) -> list[str]:
    """The newest round's entries saved, submitted or decided (the audit) before the round opened."""
    y, r, _ = _periods(path)[-1]
    opens = dt.datetime(int(y[:4]), 9, 1) if r == "HK1" else dt.datetime(int(y[5:]), 1, 11)
    rows = _state_rows(path, "SELECT action, at FROM audit WHERE detail LIKE ?", (f"%{y} {r}%",))
    assert rows  # the audit names the round
    return [f"{action} lúc {at}: trước khi kỳ {y} {r} mở" for action, at in rows
            if at < opens.replace(tzinfo=VN).timestamp()]


def test_a_round_opened_days_ago_holds_its_entries_within_those_days(tmp_path):
    day = dt.date(2027, 1, 20)  # CN opened on 11/01: nine days
    path = _build(tmp_path / "cn.duckdb", as_of=day)
    assert _periods(path)[-1][:2] == ("2026-2027", "CN")
    assert early_entries(path) == [] and late_times(path, day) == []
    assert _state_rows(path, "SELECT count(*) FROM entries WHERE round = 'CN' AND decided_at IS NOT NULL")[0][0] > 0


def test_planted_entries_before_the_round_opened_are_caught(tmp_path, monkeypatch):
    monkeypatch.setattr(sample_clock.Clock, "squeeze", lambda self, since, *parts: [rows for rows, _ in parts])
    assert early_entries(_build(tmp_path / "cn.duckdb", as_of=dt.date(2027, 1, 20)))


def test_part_of_the_schools_have_submitted(asof_db):
    assert share_problems(asof_db) == []


def test_planted_everyone_submitted_is_caught(tmp_path, monkeypatch):
    monkeypatch.setattr(sample_clock.Clock, "arrivals",  # every file arrived a month ago
                        lambda self, n, y, r, rng: np.array([self.before - dt.timedelta(days=30)] * n, dtype=object))
    problems = share_problems(_build(tmp_path / "p.duckdb"))
    assert any("không phải một phần hợp lý" in p for p in problems), problems


def test_default_sample_unchanged(sample_db):
    assert default_problems(sample_db) == []


def test_planted_as_of_sample_as_default_is_caught(asof_db):
    assert len(default_problems(asof_db)) >= 3


# ---- the command line ----------------------------------------------------------------------------------------------

def test_cli_refuses_a_wrong_day_in_vietnamese(tmp_path, capsys):
    assert main(["init", "--sample", "--as-of", "31/02/2026", "--db", str(tmp_path / "x.duckdb")]) == 1
    err = capsys.readouterr().err
    assert "không phải một ngày" in err and "DD/MM/YYYY" in err and "Traceback" not in err
    assert main(["init", "--as-of", "today", "--db", str(tmp_path / "x.duckdb")]) == 1
    assert "chỉ dùng cùng --sample" in capsys.readouterr().err
    assert not (tmp_path / "x.duckdb").exists()


def test_parse_as_of():
    assert sample_clock.parse_as_of("06/12/2026") == AS_OF
    assert sample_clock.parse_as_of(" 6/12/2026 ") == AS_OF
    assert sample_clock.parse_as_of("today", today=AS_OF) == AS_OF
    for bad in ("2026-12-06", "32/01/2026", "hôm qua", ""):
        with pytest.raises(ValueError, match="DD/MM/YYYY"):
            sample_clock.parse_as_of(bad)


# ---- the pages ------------------------------------------------------------------------------------------------------

def _texts(at) -> list[str]:
    out = []
    for kind in ("markdown", "caption", "info", "success", "warning", "error", "subheader", "title", "header"):
        out += [str(e.value) for e in getattr(at, kind)]
    out += [f"{m.label} {m.value}" for m in at.metric]
    return out


def page_problems(at, as_of: dt.date) -> list[str]:
    """A page on the as-of sample: no error, no None/NaT, the round's deadline shown and ahead, no deadline
    said to have passed long ago."""
    out = [f"lỗi: {e.value}" for e in at.exception]
    text = "\n".join(_texts(at))
    out += [f"'{m.group(0)}' trên trang" for m in re.finditer(r"\bNone\b|\bNaT\b", text)]
    shown = re.findall(r"hạn nộp (\d\d)/(\d\d)/(\d{4})", text)
    if not shown:
        out.append("trang không nói hạn nộp")
    out += [f"hạn nộp {d}/{m}/{y} đã qua" for d, m, y in shown if dt.date(int(y), int(m), int(d)) < as_of]
    out += [f"'{m.group(0)}'" for m in re.finditer(r"đã qua (\d+) ngày", text) if int(m.group(1)) >= 120]
    return out


@pytest.fixture()
def on_asof(asof_db, monkeypatch):
    monkeypatch.setenv("KPI_DB", str(asof_db))
    return asof_db


def test_truong_page_of_a_principal_speaks_of_the_deadline_ahead(on_asof):
    at = app_test("truong", "ht.th001")
    assert page_problems(at, AS_OF) == []
    text = "\n".join(_texts(at))
    assert "Trả lại" in text and "đã nộp đúng hạn ngày" in text and "(hạn 10/01/2027)" in text


def test_duyet_page_shows_the_submissions_so_far(on_asof):
    at = app_test("duyet", "chuyenvien")
    assert page_problems(at, AS_OF) == []
    metrics = {m.label: int(m.value) for m in at.metric}
    assert 0 < metrics["Chưa nộp"] < 53 and metrics["Chờ duyệt"] > 0 and metrics["Đã duyệt"] > 0


def test_tong_quan_page_counts_the_schools_reported_so_far(on_asof):
    at = app_test("tong_quan", "lanhdao")
    assert page_problems(at, AS_OF) == []
    counts = re.findall(r"(\d+)/53 trường đã báo cáo", "\n".join(_texts(at)))
    assert counts and all(0 < int(c) < 53 for c in counts)


def test_planted_stale_sample_on_the_truong_page_is_caught(sample_db, monkeypatch):
    monkeypatch.setenv("KPI_DB", str(sample_db))
    problems = page_problems(app_test("truong", "ht.th001"), AS_OF)
    assert any("đã qua" in p for p in problems), problems


def _du_lieu_days(path, monkeypatch) -> tuple[str, int]:
    monkeypatch.setenv("KPI_DB", str(path))
    at = app_test("du_lieu", "chuyenvien")
    assert not at.exception
    m = re.search(r"(còn|đã qua) ([\d.]+) ngày", "\n".join(_texts(at)))
    assert m, _texts(at)
    return m.group(1), int(m.group(2).replace(".", ""))


def test_make_run_sample_as_of_today(tmp_path, monkeypatch, capsys):
    """What `make run` builds (`--as-of today`): the Dữ liệu page counts the days to the deadline, or
    (between rounds, in summer) days since one that passed at most a season ago."""
    path = tmp_path / "today.duckdb"
    assert main(["init", "--sample", "--as-of", "today", "--db", str(path)]) == 0
    assert f"tính đến ngày {dt.date.today():%d/%m/%Y}" in capsys.readouterr().out
    assert _read(path, "SELECT value FROM meta WHERE key = 'sample_as_of'") == [(dt.date.today().isoformat(),)]
    assert late_times(path, dt.date.today()) == []
    word, days = _du_lieu_days(path, monkeypatch)
    y, r, deadline = _periods(path)[-1]
    assert (word, days) == (("còn", (deadline - dt.date.today()).days) if deadline >= dt.date.today()
                            else ("đã qua", (dt.date.today() - deadline).days))
    assert word == "còn" or days < 120


def test_planted_fixed_sample_today_is_caught(sample_db, monkeypatch):
    word, days = _du_lieu_days(sample_db, monkeypatch)
    assert word == "đã qua" and days >= 120  # what `make run` showed before: about 930 days
