"""`python -m kpi scores` against an independent hand computation from the database and criteria.csv."""

import csv
import io
import math
from collections import defaultdict
from pathlib import Path

import pytest

from kpi.cli import SCORE_COLUMNS, main

ROOT = Path(__file__).resolve().parents[1]


def _hand_scores(con, year):
    rows = list(csv.DictReader(open(ROOT / "kpi/definitions/criteria.csv", encoding="utf-8")))
    leaves = [r for r in rows if r["rule"] == "entered"]
    conds = [r for r in rows if r["rule"] == "condition"]
    entries = defaultdict(dict)
    for sid, code, sp, sm, vp, vm in con.execute(
            "SELECT school_id, criterion_code, self_points, self_met, verified_points, verified_met "
            "FROM criterion_scores WHERE school_year = ?", [year]).fetchall():
        entries[sid][code] = (sp, sm, vp, vm)
    fields = defaultdict(dict)
    for sid, rnd, f, v in con.execute(
            "SELECT school_id, round, field_code, value FROM observations WHERE school_year = ?", [year]).fetchall():
        if rnd == "CN" or f not in fields[sid]:
            fields[sid][f] = v
    levels_apply = ("TH", "THCS", "GDTX")
    schools = [s for (s,) in con.execute(
        "SELECT school_id FROM schools WHERE level IN ('TH', 'THCS', 'GDTX') ORDER BY 1").fetchall()]
    out = {}
    for sid in schools:
        if sid not in entries and sid not in fields:
            continue
        total, levels = {}, {}
        for g in ("DH", "QT"):
            pts = 0.0
            for r in (x for x in leaves if x["group_code"] == g):
                sp, _, vp, _ = entries[sid].get(r["criterion_code"], (None, None, None, None))
                p = vp if vp is not None else sp
                if p is None and r["compute"]:
                    n = fields[sid].get(r["numerator_field"])
                    if r["compute"] == "bool" and n is not None:
                        p = float(r["max_points"]) if n >= 1 else 0.0
                    elif r["compute"] == "ratio" and n is not None:
                        d = fields[sid].get(r["denominator_field"])
                        if d:
                            p = math.floor(min(1.0, n / d) * float(r["max_points"]) * 2 + 0.5 + 1e-9) / 2
                pts += min(p or 0.0, float(r["max_points"]))
            level = 1 if pts < 50 else 2 if pts <= 75 else 3
            unmet = False
            for r in (x for x in conds if x["group_code"] == g):
                _, sm, _, vm = entries[sid].get(r["criterion_code"], (None, None, None, None))
                met = vm if vm is not None else sm
                unmet |= not met
            total[g], levels[g] = pts, 1 if unmet else level
        out[sid] = (total["DH"], levels["DH"], total["QT"], levels["QT"], min(levels.values()))
    assert levels_apply
    return out


@pytest.mark.parametrize("year", ["2021-2022", "2022-2023", "2023-2024"])
def test_scores_cli_matches_hand_computation(sample_db, con, capsys, year):
    assert main(["scores", "--db", str(sample_db), "--year", year, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert list(rows[0]) == SCORE_COLUMNS
    hand = _hand_scores(con, year)
    assert {r["school_id"] for r in rows} == set(hand)
    for r in rows:
        dh, dh_level, qt, qt_level, school = hand[r["school_id"]]
        assert float(r["dh_points"]) == pytest.approx(dh) and int(r["dh_level"]) == dh_level
        assert float(r["qt_points"]) == pytest.approx(qt) and int(r["qt_level"]) == qt_level
        assert int(r["school_level"]) == school
        assert r["school_year"] == year and r["provisional"] in ("True", "False")


def test_scores_edge_cases_present(sample_db, capsys):
    main(["scores", "--db", str(sample_db), "--year", "2023-2024", "--format", "json"])
    import json

    rows = json.loads(capsys.readouterr().out)
    dh = {r["dh_points"]: r["dh_level"] for r in rows}
    assert dh[50.0] == 2 and dh[75.0] == 2
    capped = [r for r in rows if r["dh_level"] == 1 and r["dh_points"] >= 50]
    assert capped  # the school with an unmet mandatory condition


def test_scores_unknown_year(sample_db, capsys):
    assert main(["scores", "--db", str(sample_db), "--year", "2030-2031"]) == 1
    assert "Chưa có số liệu đánh giá" in capsys.readouterr().err


def test_check_compares_the_app_scoring_with_the_reference(sample_db, capsys, monkeypatch):
    assert main(["scores", "--db", str(sample_db), "--year", "2023-2024", "--check"]) == 0
    assert "Khớp: điểm của 32 trường trùng với bộ chấm tham chiếu" in capsys.readouterr().out
    from kpi.store import queries

    real = queries.maturity_schools

    def off_by_one(*args, **kwargs):  # an SQL engine that drifted from the reference on one school
        df = real(*args, **kwargs)
        df.loc[df.school_id == "TH003", "dh_points"] += 1
        return df

    monkeypatch.setattr(queries, "maturity_schools", off_by_one)
    assert main(["scores", "--db", str(sample_db), "--year", "2023-2024", "--check"]) == 1
    assert "1 trường có điểm khác bộ chấm tham chiếu: TH003" in capsys.readouterr().err


def test_rescore_rewrites_the_stored_index(writable_db, capsys):
    from kpi.store import db

    with db.writing(writable_db) as con:  # stored index damaged and out of date
        con.execute("DELETE FROM index_schools")
        con.execute("UPDATE meta SET value = 'cu' WHERE key = 'index_version'")
    assert main(["rescore", "--db", str(writable_db)]) == 0
    assert "Đã chấm lại chỉ số CĐS: 96 lượt trường × năm học" in capsys.readouterr().out
    c = db.connect(writable_db)
    try:
        assert c.execute("SELECT count(*) FROM index_schools").fetchall()[0][0] == 96
        meta = dict(c.execute("SELECT key, value FROM meta").fetchall())
    finally:
        c.close()
    assert meta["index_version"] == meta["data_version"]
