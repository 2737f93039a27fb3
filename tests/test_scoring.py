"""The maturity-index engine: table-driven boundaries and rules, the road to the next level.

Every rule case runs on both engines: kpi.domain.scoring (pandas, the reference) and the SQL the app
scores with (kpi/sql/maturity_base.sql, through kpi.store.queries), on a real DuckDB file."""

import dataclasses
import itertools
import tempfile
from pathlib import Path

import pandas as pd
import pytest

from kpi.catalog.model import default_catalog
from kpi.common.access import Scope
from kpi.domain import scoring
from kpi.store import db, queries

CAT = default_catalog()
DH_LEAVES = [c.code for c in scoring.leaves(CAT) if c.group_code == "DH"]
QT_LEAVES = [c.code for c in scoring.leaves(CAT) if c.group_code == "QT" and c.rule == "entered"]


def _with_rules(**changes):
    return dataclasses.replace(CAT, index=dataclasses.replace(CAT.index, **changes))


def _fill(total: float, codes):
    """Leaf points adding up to `total`, filling criteria in order up to their maximum."""
    out, left = {}, total
    for code in codes:
        take = min(CAT.criteria[code].max_points, left)
        out[code] = take
        left -= take
    assert left == 0
    return out


def _entries(points: dict, met: dict | None = None, verified: dict | None = None, school="S1", year="2023-2024"):
    met = {"DH1": True, "DH2": True, "QT1": True, "QT2": True} if met is None else met
    rows = [{"school_id": school, "school_year": year, "criterion_code": c, "self_points": p, "self_met": None,
             "verified_points": (verified or {}).get(c), "verified_met": None} for c, p in points.items()]
    rows += [{"school_id": school, "school_year": year, "criterion_code": c, "self_points": None, "self_met": m,
              "verified_points": None, "verified_met": None} for c, m in met.items()]
    return pd.DataFrame(rows, columns=scoring.ENTRY_COLUMNS)


NO_FIELDS = pd.DataFrame(columns=["school_id", "school_year", "field_code", "value"])
ENGINE = "pandas"


@pytest.fixture(params=["pandas", "sql"], autouse=True)
def engine(request):
    global ENGINE
    ENGINE = request.param
    yield request.param
    ENGINE = "pandas"


def _sql_score(entries: pd.DataFrame, fields: pd.DataFrame, cat):
    """Score through the app's SQL: the entries and field values written to a fresh DuckDB file."""
    path = Path(tempfile.mkdtemp()) / "scoring.duckdb"
    with db.writing(path, fresh=True) as con:
        con.execute("INSERT INTO units VALUES ('U1', 'Phòng thử', 'phong', NULL)")
        for sid in sorted(set(entries.school_id) | set(fields.school_id)):
            con.execute("INSERT INTO schools VALUES (?, ?, 'TH', 'cong_lap', 'Phường 1', 'U1', TRUE)",
                        [sid, f"Trường {sid}"])
        for r in entries.itertuples():
            con.execute("INSERT INTO criterion_scores VALUES (?, ?, ?, ?, ?, ?, ?, NULL, 1)",
                        [r.school_id, r.school_year, r.criterion_code, _none(r.self_points), _none(r.self_met),
                         _none(r.verified_points), _none(r.verified_met)])
        for r in fields.itertuples():
            con.execute("INSERT INTO observations VALUES (?, ?, 'CN', ?, ?, 1)",
                        [r.school_id, r.school_year, r.field_code, float(r.value)])
    con = db.connect(path)
    try:
        years = sorted(set(entries.school_year) | set(fields.school_year))
        return queries.maturity(con, cat, Scope.everything(), years)
    finally:
        con.close()


def _none(v):
    return None if v is None or pd.isna(v) else v


def _score(entries, fields=NO_FIELDS, cat=CAT):
    if ENGINE == "sql":
        crit, schools = _sql_score(entries, fields, cat)
    else:
        crit, schools = scoring.score(entries, scoring.computed_points(fields, cat), cat)
    return crit, schools.iloc[0]


@pytest.mark.parametrize("points, level", [(0, 1), (49.5, 1), (50, 2), (62, 2), (75, 2), (75.5, 3), (100, 3)])
def test_band_boundaries(points, level):
    assert scoring.level_for(points, CAT) == level
    _, s = _score(_entries(_fill(points, DH_LEAVES)))
    assert s.dh_points == points and s.dh_level == level


@pytest.mark.parametrize("met, effect, level, unmet", [
    ({"DH1": False, "DH2": True}, "cap_level_1", 1, "DH1"),
    ({"DH1": True, "DH2": False}, "cap_level_1", 1, "DH2"),
    ({"DH2": True}, "cap_level_1", 1, "DH1"),  # not declared counts as not met
    ({"DH1": False, "DH2": False}, "none", 3, "DH1, DH2"),
    ({"DH1": True, "DH2": True}, "cap_level_1", 3, ""),
])
def test_mandatory_conditions(met, effect, level, unmet):
    _, s = _score(_entries(_fill(80, DH_LEAVES), met={**met, "QT1": True, "QT2": True}),
                  cat=_with_rules(mandatory_unmet=effect))
    assert (s.dh_level, s.dh_unmet) == (level, unmet)
    assert s.dh_points == 80


def test_verified_overrides_self_assessment():
    crit, s = _score(_entries({"DH3.1": 6, "DH5.1": 15}, verified={"DH5.1": 7.5}))
    rows = crit.set_index("criterion_code")
    assert rows.loc["DH5.1", "points"] == 7.5 and rows.loc["DH5.1", "source"] == "verified"
    assert rows.loc["DH3.1", "points"] == 6 and rows.loc["DH3.1", "source"] == "self"
    assert s.dh_points == 13.5
    verified_met = _entries(_fill(80, DH_LEAVES), met={"DH1": False, "DH2": True})
    verified_met.loc[verified_met.criterion_code == "DH1", "verified_met"] = True
    _, s = _score(verified_met)
    assert s.dh_level == 3 and s.dh_unmet == ""


def test_points_capped_at_maximum():
    crit, s = _score(_entries({"DH3.1": 10, "DH5.1": 15.5}))
    rows = crit.set_index("criterion_code")
    assert rows.loc["DH3.1", "points"] == 6 and rows.loc["DH3.1", "capped"]
    assert rows.loc["DH5.1", "points"] == 15 and rows.loc["DH5.1", "capped"]
    assert s.dh_points == 21


def test_computed_points_and_precedence():
    fields = pd.DataFrame({"school_id": "S1", "school_year": "2023-2024",
                           "field_code": ["phong_hoc_trinh_chieu", "phong_hoc", "tuyen_sinh_truc_tuyen"],
                           "value": [17.0, 30.0, 1.0]})
    computed = scoring.computed_points(fields, CAT)
    by_code = dict(zip(computed.criterion_code, computed.computed))
    assert by_code["DH7.1"] == 4.5  # 8 × 17/30 = 4,53 → 4,5
    assert by_code["QT4.2"] == 12
    crit, _ = _score(_entries({"DH7.1": 8}), fields)
    rows = crit.set_index("criterion_code")
    assert rows.loc["DH7.1", "points"] == 8 and rows.loc["DH7.1", "source"] == "self"
    assert rows.loc["QT4.2", "points"] == 12 and rows.loc["QT4.2", "source"] == "computed"
    crit, _ = _score(_entries({"DH7.1": 8}), fields, cat=_with_rules(precedence=("computed", "verified", "self")))
    assert crit.set_index("criterion_code").loc["DH7.1", "points"] == 4.5


@pytest.mark.parametrize("x, expected", [(3.2, 3.0), (3.25, 3.5), (3.74, 3.5), (3.75, 4.0), (0.0, 0.0)])
def test_round_half_up_to_step(x, expected):
    assert scoring.round_step(x, 0.5) == expected


@pytest.mark.parametrize("dh, qt, combine, school", [
    (80, 30, "min", 1), (30, 80, "min", 1), (60, 90, "min", 2), (90, 90, "min", 3),
    (90, 30, "dh", 3), (90, 30, "qt", 1),
])
def test_groups_combine_never_average(dh, qt, combine, school):
    _, s = _score(_entries({**_fill(dh, DH_LEAVES), **_fill(qt, QT_LEAVES)}), cat=_with_rules(combine_groups=combine))
    assert s.school_level == school


def test_provisional_flag():
    _, s = _score(_entries({"DH3.1": 6}))  # DH3.1 and DH1/DH2 are confirmed rows
    assert not s.dh_provisional
    _, s = _score(_entries({"DH3.1": 6, "DH4": 5}))  # DH4's points come from a single unofficial source
    assert s.dh_provisional and s.provisional
    _, s = _score(_entries(_fill(80, DH_LEAVES), met={"DH1": False, "DH2": True}))
    assert s.dh_provisional  # the cap itself is an unsettled rule


def test_placeholder_never_scored_or_rescaled():
    e = _entries({**_fill(90, QT_LEAVES), "QT_GAP": 10})
    crit, s = _score(e)
    assert crit.set_index("criterion_code").loc["QT_GAP", "points"] == 0
    assert s.qt_points == 90 and s.qt_provisional
    _, s = _score(e, cat=_with_rules(placeholder="rescale"))
    assert s.qt_points == 100 and s.qt_level == 3


def test_road_closes_the_gap_with_fewest_criteria(con):
    from kpi.common.access import Scope
    from kpi.store import queries

    crit, schools = queries.maturity(con, CAT, Scope.everything(), ["2023-2024", "2022-2023"])
    checked = 0
    for _, school in schools.iterrows():
        mine = crit[(crit.school_id == school.school_id) & (crit.school_year == school.school_year)]
        for group in ("DH", "QT"):
            road = scoring.road_to_next_level(mine, school, group, CAT)
            if road.points_needed <= 0:
                continue
            checked += 1
            got = sum(r for _, _, r in road.criteria)
            assert got >= road.points_needed - 1e-9
            g = mine[(mine.group_code == group) & ~mine.placeholder]
            remaining = sorted((g.max_points - g.points)[lambda x: x > 0], reverse=True)
            k = len(road.criteria)
            # no set of k - 1 criteria can close the gap: even the k - 1 largest fall short
            assert sum(remaining[: k - 1]) < road.points_needed - 1e-9
            assert road.sentence.startswith("Cần") and f"để đạt Mức {road.level + 1}" in road.sentence
    assert checked > 20


def test_road_brute_force_small_case():
    crit, s = _score(_entries({"DH3.1": 6, "DH3.3": 6, "DH3.4": 6, "DH5.1": 15, "DH6.1": 7, "DH7.1": 6}))
    assert s.dh_points == 46 and s.dh_level == 1
    road = scoring.road_to_next_level(crit, s, "DH", CAT)
    assert road.points_needed == 4 and len(road.criteria) == 1
    g = crit[(crit.group_code == "DH") & ~crit.placeholder]
    rem = [r for r in g.max_points - g.points if r > 0]
    best = min(k for k in range(1, len(rem) + 1) if any(sum(c) >= 4 for c in itertools.combinations(rem, k)))
    assert len(road.criteria) == best
    assert road.sentence.startswith("Cần thêm 4 điểm nhóm Dạy-học để đạt Mức 2: ")


def test_road_when_a_condition_caps_the_group():
    crit, s = _score(_entries(_fill(80, DH_LEAVES), met={"DH1": False, "DH2": True}))
    road = scoring.road_to_next_level(crit, s, "DH", CAT)
    assert road.level == 1 and road.next_level == 3 and road.unmet == ("DH1",)
    assert road.sentence.startswith("Trước hết phải đáp ứng điều kiện bắt buộc: DH1 ")
