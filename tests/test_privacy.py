"""What a principal learns about other schools: no identity ever, nothing about a group of fewer than
privacy.MIN_GROUP schools (after the filters in force), on the pages, in downloads and in exports."""

import itertools

import pandas as pd
import pytest

from kpi.catalog.model import LEVEL_LABELS, OWNERSHIP_LABELS, default_catalog
from kpi.common.access import Scope
from kpi.display import tables
from kpi.domain import privacy
from kpi.exports.school_pdf import school_pdf
from kpi.exports.xlsx import to_xlsx
from kpi.store import queries
from kpi.views import cache as views
from kpi.views.pack import build_pack
from tests.cells_check import csv_texts, xlsx_texts
from tests.conftest import app_test

CAT = default_catalog()
K = privacy.MIN_GROUP
PERIOD, EARLIER = ("2023-2024", "CN"), ("2023-2024", "HK1")


def _others(con, own: str) -> list[tuple[str, str]]:
    return con.execute("SELECT school_id, name FROM schools WHERE school_id <> ?", [own]).fetchall()


def leaks(texts: str, others: list[tuple[str, str]]) -> list[str]:
    """Other schools whose code or name appears in the text (the checker every test below uses)."""
    return [f"{sid} {name}" for sid, name in others if sid in texts or name in texts]


def _frame_text(df: pd.DataFrame) -> str:
    return df.astype(str).to_csv(index=False)


def _exported(frame: pd.DataFrame) -> str:
    return "\n".join(csv_texts(tables.to_csv_bytes(frame)) + xlsx_texts(tables.to_xlsx_bytes(frame)))


def test_the_checker_flags_a_planted_leak(con):
    """The unit-wide rows a principal must never get, run through the same checks: flagged."""
    others = _others(con, "TH001")
    raw = queries.school_values(con, CAT, Scope(), "tin_hoc_quoc_te", PERIOD, EARLIER)
    assert leaks(_exported(tables.school_table(raw)), others)
    # and a small group left unsuppressed is caught by the group rule below
    tiny = raw[raw["school_id"].isin(["TH001", "TH002"])]
    assert tiny["value"].notna().sum() < K and (tiny["school_id"] != "TH001").any()


def test_peer_rows_equal_the_reference_query(con):
    """Places and district values computed once per level (kpi.domain.privacy.LevelPeers, by binary search)
    agree with the per-school SQL (kpi/sql/school_indicators.sql), for every school of the sample."""
    peers = {}
    schools = con.execute("SELECT school_id, level FROM schools ORDER BY school_id").fetchall()
    assert len(schools) >= 50
    for sid, level in schools:
        ref = queries.school_indicators(con, CAT, Scope(), sid, *PERIOD).sort_values("indicator_code")
        if level not in peers:
            peers[level] = privacy.LevelPeers(queries.level_values(con, CAT, Scope(), level, *PERIOD))
        got = peers[level].rows([d for d in CAT.target_rows(PERIOD[0]) if d["level"] == level], sid, None)
        assert list(got["indicator_code"]) == list(ref["indicator_code"])
        for col in ("numerator", "denominator", "value", "position", "peers", "district_value", "target"):
            a, b = got[col].astype(float).to_numpy(), ref[col].astype(float).to_numpy()
            assert ((abs(a - b) < 1e-9) | (pd.isna(a) & pd.isna(b))).all(), (sid, col)
    with pytest.raises(PermissionError):
        queries.level_values(con, CAT, Scope.school("TH001"), "TH", *PERIOD)


def test_principal_values_rule():
    rows = pd.DataFrame({"school_id": [f"S{i}" for i in range(6)], "name": [f"Trường {i}" for i in range(6)],
                         "ownership": "cong_lap", "ward": "Phường 1", "numerator": 1.0, "denominator": 2.0,
                         "value": [0.9, 0.8, 0.7, None, 0.5, 0.4], "level": "TH"})
    out, hidden = privacy.principal_values(rows, "S2", k=5)
    assert not hidden and len(out) == 6 and out["is_own"].sum() == 1
    assert set(out.loc[~out["is_own"], "name"]) == {"Trường khác"}
    assert out.loc[~out["is_own"], ["school_id", "ward", "numerator", "denominator"]].isna().all().all()
    out, hidden = privacy.principal_values(rows, "S2", k=6)  # 5 reported: under 6
    assert hidden and list(out["school_id"]) == ["S2"]


def test_every_filter_combination_for_every_principal(sample_db, con):
    """The principal's view of an indicator (rows, district trend, downloads) for every cấp học ×
    loại hình × phường of the sample: no other school named; nothing about others in a small group."""
    v = views.views_for(sample_db)
    wards = [w for (w,) in con.execute("SELECT DISTINCT ward FROM schools ORDER BY 1").fetchall()]
    principals = [r for r in queries.principal_users(con)]
    assert len(principals) >= 3
    checked = small = 0
    for user, code in itertools.product(principals, ("tin_hoc_quoc_te", "chu_ky_so")):
        own = user["school_id"]
        scope = Scope.school(own, user["unit_id"])
        others = _others(con, own)
        for level, owner, ward in itertools.product([None, *LEVEL_LABELS], [None, *OWNERSHIP_LABELS],
                                                    [None, *wards]):
            view = v.indicator(scope, code, *PERIOD, level, owner, ward)
            shown = _frame_text(view.values) + _frame_text(view.trend) + view.missing_sentence + view.caption
            if view.has_values and (ward is None or view.note):  # the downloads, read back cell by cell
                shown += _exported(view.school_table)
            assert not leaks(shown, others), (own, code, level, owner, ward)
            full = v.school_values(Scope(), code, PERIOD, EARLIER, level, owner, ward)  # the unit-wide rows
            if full["value"].notna().sum() < K:  # a small group: nothing about the others at all
                small += 1
                assert (view.values["school_id"] == own).all() and view.note
            # a period's pooled value only where at least K schools reported it
            assert view.trend.loc[view.trend["schools_reporting"] < K, "value"].isna().all()
            checked += 1
    assert checked > 500 and small > 20  # the sample has many small groups: the rule really ran


def test_the_issues_link_shows_no_single_school(sample_db):
    at = app_test("chi_tieu", user="ht.th001", chi_tieu="tin_hoc_quoc_te", cap_hoc="TH", loai_hinh="ngoai_cong_lap",
                  phuong="Phường 13")
    assert not at.exception
    text = "\n".join(i.value for i in at.info)
    assert f"Nhóm dưới {K} trường" in text
    for tab in ("Bảng",):
        at.session_state["ct_tab"] = tab
        at.run()
        assert not at.exception
        for d in at.dataframe:
            frame = d.value.data if hasattr(d.value, "data") else d.value
            assert len(frame) <= 1  # the own school at most


def test_scorecard_of_a_school_alone_at_its_level(sample_db, con):
    """A principal whose level has fewer than K schools reporting gets no place and no district value."""
    v = views.views_for(sample_db)
    level_counts = dict(con.execute("SELECT level, count(*) FROM schools GROUP BY 1").fetchall())
    lonely = [lv for lv, n in level_counts.items() if n < K]
    if not lonely:
        pytest.skip("every level of the sample has enough schools")
    sid = con.execute("SELECT school_id FROM schools WHERE level = ? ORDER BY 1 LIMIT 1", [lonely[0]]).fetchone()[0]
    card = v.scorecard(Scope.school(sid), sid, *PERIOD)
    assert card is not None and card.cards
    assert all("xếp thứ" not in c.peers and "Toàn đơn vị" not in c.peers for c in card.cards)
    office = v.scorecard(Scope(), sid, *PERIOD)  # the office still sees the district figures
    assert any("Toàn đơn vị" in c.peers for c in office.cards)


def test_principal_exports_name_no_other_school(sample_db, con, tmp_path):
    import subprocess

    v = views.views_for(sample_db)
    scope = Scope.school("TH001")
    others = _others(con, "TH001")
    pdf = school_pdf(v, CAT, scope, "TH001", *PERIOD)
    path = tmp_path / "p.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True).stdout
    assert "Tiểu học" in text and not leaks(text, others)
    pack = build_pack(v, CAT, scope, *PERIOD)
    data = to_xlsx(pack, CAT)
    assert not leaks("\n".join(xlsx_texts(data)), others)
    for code, vals in pack.values.items():
        assert not leaks(_frame_text(vals), others), code
    # the same pack for the office names them (the check can fail)
    office = build_pack(v, CAT, Scope(), *PERIOD)
    assert leaks("\n".join(xlsx_texts(to_xlsx(office, CAT))), others)


def test_a_units_slice_gives_the_same_figures(sample_db, monkeypatch):
    """kpi.views.cache answers a unit's queries from its observations read once into memory; the figures
    are the ones the stored table gives."""
    scope = Scope.school("TH003", "PGD_Q3")
    codes = ("tin_hoc_quoc_te", "chu_ky_so", "lms_lop5")

    def figures(v):
        ind = [v.indicator(scope, code, *PERIOD) for code in codes]
        return ind, v.scorecard(scope, "TH003", *PERIOD)

    with monkeypatch.context() as m:
        m.setattr(views, "SLICE_MAX_SCHOOLS", 0)  # never slice
        full = views.Views(sample_db)
        full_ind, full_card = figures(full)
    sliced = views.Views(sample_db)
    ind, card = figures(sliced)
    assert ("unit_slice", "PGD_Q3") in sliced._memo and ("unit_slice", "PGD_Q3") not in full._memo
    for a, b in zip(ind, full_ind):
        assert a.values.equals(b.values) and a.trend.equals(b.trend) and a.note == b.note
    assert card.cards == full_card.cards and card.next_steps == full_card.next_steps
    assert (card.maturity.groups, card.maturity.roads) == (full_card.maturity.groups, full_card.maturity.roads)


# ---- k per cấp học (issue 24 item 9) --------------------------------------------------------------

EVERY_LEVEL = [c for c, ind in CAT.indicators.items() if len(ind.levels) == len(LEVEL_LABELS)]


def level_leaks(values: pd.DataFrame, full: pd.DataFrame, trend: pd.DataFrame,
                per_level: pd.DataFrame | None = None) -> list[str]:
    """Per-cấp-học groups of fewer than K reporting schools that reach a principal: another school's
    row carrying such a level (its value is that level's figure), a per-level trend point pooled
    over fewer than K schools, or (with `per_level`, kpi.store.queries.indicator_trend's unit-wide rows
    under the same filters) pooled counts over such a level, from which the counts the other levels
    show under their own filter subtract to that level's. `full`: the unit-wide rows."""
    reporting = full[full["value"].notna()].groupby("level").size()
    others = values[~values["is_own"].astype(bool)]
    out = [f"hàng {lv}: {n} trường khác" for lv, n in others.groupby("level").size().items()
           if int(reporting.get(lv, 0)) < K]
    split = trend[trend["series"].isin(list(LEVEL_LABELS))] if "series" in trend.columns else trend.iloc[:0]
    out += [f"xu hướng {r['series']} {r['period']}" for r in split.to_dict("records")
            if r["schools_reporting"] < K and pd.notna(r["value"])]
    if per_level is not None:
        tiny = per_level[(per_level["schools_reporting"] > 0) & (per_level["schools_reporting"] < K)]
        periods = set(zip(tiny["school_year"], tiny["round"]))
        pooled = trend[~trend["series"].isin(list(LEVEL_LABELS))] if "series" in trend.columns else trend.iloc[:0]
        out += [f"tử số gộp {r['period']}" for r in pooled.to_dict("records")
                if (r["school_year"], r["round"]) in periods and pd.notna(r["numerator"])]
    return out


def count_level_leaks(v, con, codes, filters: bool = True, pack_of: str | None = None) -> tuple[int, int]:
    """(re-identifications, views checked) over every principal × `codes` × loại hình × phường (no
    cấp học filter: that is where rows of several levels meet), the downloads, and the pack scoped
    to the principal of school `pack_of` (every indicator of every cấp học)."""
    wards = [w for (w,) in con.execute("SELECT DISTINCT ward FROM schools ORDER BY 1").fetchall()]
    found = checked = 0
    raws = {}
    for user in queries.principal_users(con):
        scope = Scope.school(user["school_id"], user["unit_id"])
        combos = itertools.product(codes, [None, *OWNERSHIP_LABELS], [None, *wards]) if filters else \
            [(c, None, None) for c in codes]
        for code, owner, ward in combos:
            view = v.indicator(scope, code, *PERIOD, None, owner, ward)
            full = v.school_values(Scope(), code, PERIOD, EARLIER, None, owner, ward)
            if (code, owner, ward) not in raws:  # the unit-wide rows per level, the same for every principal
                raws[(code, owner, ward)] = queries.indicator_trend(con, CAT, Scope(), code, None, owner, ward)
            raw = raws[(code, owner, ward)]
            bad = level_leaks(view.values, full, view.trend, raw)
            table = view.school_table  # what the table, its CSV/XLSX and the chart's hover show per row
            shown_levels = table.loc[table["Mã trường"] == "", "Cấp học"]
            reporting = full[full["value"].notna()].groupby("level").size()
            bad += [f"tệp tải về {lv}" for lv in set(shown_levels) if int(reporting.get(lv, 0)) < K]
            found += len(bad)
            checked += 1
        if user["school_id"] == pack_of:
            pack = build_pack(v, CAT, scope, *PERIOD)
            for code in EVERY_LEVEL:
                found += len(level_leaks(pack.values[code], v.school_values(Scope(), code, PERIOD, EARLIER),
                                         pack.trends[code], queries.indicator_trend(con, CAT, Scope(), code)))
            found += int((pack.rows["schools_reporting"] < K).sum())
    return found, checked


def test_no_per_level_group_under_k_reaches_a_principal(sample_db, con):
    """Every principal × an indicator of every cấp học × every filter; every such indicator without
    filters; a principal's pack: 0 re-identifications."""
    levels = dict(con.execute("SELECT level, count(*) FROM schools GROUP BY 1").fetchall())
    assert min(levels.values()) < K  # the sample has a level (GDTX) too small to show apart
    v = views.Views(sample_db)
    found, checked = count_level_leaks(v, con, EVERY_LEVEL[:1], pack_of="TH001")
    assert checked > 100 and found == 0
    found, checked = count_level_leaks(v, con, EVERY_LEVEL, filters=False)
    assert checked >= 4 * len(EVERY_LEVEL) and found == 0


def test_the_per_level_count_catches_a_planted_leak(sample_db, con, monkeypatch):
    """Planted: the rule per cấp học switched off (what the issue found), then the pooled counts
    left whole: re-identifications counted each time."""
    with monkeypatch.context() as m:
        m.setattr(privacy, "small_levels", lambda values, k=K: set())
        found, _ = count_level_leaks(views.Views(sample_db), con, EVERY_LEVEL[:2], filters=False)
        assert found > 0
    real = privacy.principal_trend
    monkeypatch.setattr(privacy, "principal_trend", lambda trend, k=K, per_level=None: real(trend, k))
    found, _ = count_level_leaks(views.Views(sample_db), con, EVERY_LEVEL[:2], filters=False)
    assert found > 0
