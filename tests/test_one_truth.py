"""One truth in every output (issue 25): every timeliness figure and every district value, target,
status, gap, change and "x/y trường đã báo cáo" that the meeting pack states (XLSX, and the PDF's
text read by pdftotext), the snapshot's pack, the CLI's pack and the school PDF are read back from
the files and compared with the live page's view model (kpi.views) and with an independent SQL
recomputation (tests/truth_check.py). A planted rounding error (one formatter), a planted status
error (one status rule) and a planted timeliness error (a snapshot without the app's submissions)
must each make the comparison fail.
"""

from __future__ import annotations

import io
import math
import re
import sqlite3

import pytest

from kpi import cli
from kpi.common.access import Scope
from kpi.display import export_charts, figures
from kpi.exports.pdf import to_pdf
from kpi.exports.school_pdf import school_pdf
from kpi.exports.xlsx import to_xlsx
from kpi.store import state
from kpi.views import cache as views
from kpi.views.pack import build_pack, pack_charts
from kpi.workflows import snapshots
from tests.truth_check import (
    RND,
    TIMELINESS_WORDS,
    YEAR,
    compare_pack_pdf,
    compare_school_pdf,
    compare_vm,
    compare_xlsx,
    read_school_pdf,
    recompute,
)

# ---- the outputs ----------------------------------------------------------------------------------

def _blank_png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (40, 20), "white").save(buf, "PNG")
    return buf.getvalue()


def line_order(pack) -> list:
    return [(ln.row["clause"], ln.row["label"], ln.row["level"]) for ln in pack.lines]


def pack_pdf(pack, catalog) -> bytes:
    """The pack's PDF with blank chart images (the text is what is read; chromium is not needed)."""
    charts = [c for c in pack_charts(pack, catalog) if c.in_documents]
    return to_pdf(pack, catalog, images=[_blank_png()] * len(charts))


@pytest.fixture(scope="module")
def world(sample_db, tmp_path_factory):
    """A copy of the sample with its state store (schools that submitted in the app only, one
    returned), a snapshot frozen from it, and the truth recomputed from it."""
    path = tmp_path_factory.mktemp("truth") / "copy.duckdb"
    path.write_bytes(sample_db.read_bytes())
    state.store_for(sample_db).copy_to(state.state_path(path))
    sid = snapshots.freeze(path, YEAR, RND, "Họp giao ban", "chuyenvien")
    v = views.Views(path)
    ov = v.overview(Scope.everything(), YEAR, RND)
    truth = recompute(path, ov.rows, v.catalog)
    return {"path": path, "sid": sid, "views": v, "truth": truth, "rows": ov.rows,
            "status": v.submission_status(Scope.everything(), YEAR, RND)}


def test_the_sample_has_app_only_submissions(world):
    """The case of issue 25: schools whose only submission was made in the app (else this test
    would prove nothing about the snapshot and the CLI)."""
    t = world["truth"]
    counts = {s: sum(1 for a, _, _ in t.arrival.values() if a == s) for s in TIMELINESS_WORDS}
    assert counts == {"dung_han": 39, "tre": 6, "chua_nop": 8}
    assert {"MN018", "TH005"} <= {sid for sid, (a, _, _) in t.arrival.items() if a == "dung_han"}


def test_the_page_view_model_agrees_with_the_sql(world):
    assert compare_vm(world["truth"], world["rows"], world["status"]) == []


def test_every_output_states_the_same_figures(world, tmp_path):
    v, truth, cat = world["views"], world["truth"], world["views"].catalog
    live = build_pack(v, cat, Scope.everything(), YEAR, RND)
    frozen = build_pack(v, cat, Scope.everything(), YEAR, RND, world["sid"])
    out = tmp_path / "cli.xlsx"
    assert cli.main(["export", "--db", str(world["path"]), "--year", YEAR, "--round", RND, "--format", "xlsx",
                     "--out", str(out)]) == 0
    bad = compare_xlsx("gói trực tiếp (XLSX)", to_xlsx(live, cat), truth)
    bad += compare_pack_pdf("gói trực tiếp (PDF)", pack_pdf(live, cat), truth, line_order(live))
    bad += compare_xlsx("gói từ bản chốt (XLSX)", to_xlsx(frozen, cat), truth)
    bad += compare_xlsx("gói từ dòng lệnh (XLSX)", out.read_bytes(), truth)
    assert bad == []


@pytest.mark.parametrize("school_id", ["THCS002", "MN018", "TH001"])
def test_the_school_pdf_states_the_same_figures(world, school_id):
    """A school that submitted in time by file, one that submitted in the app only, one whose
    figures the Phòng returned."""
    v, truth = world["views"], world["truth"]
    card = v.scorecard(Scope.everything(), school_id, YEAR, RND)
    level = next(r["level"] for r in world["status"].to_dict("records") if r["school_id"] == school_id)
    data = school_pdf(v, v.catalog, Scope.everything(), school_id, YEAR, RND)
    assert compare_school_pdf(data, school_id, level, card, truth) == []


def test_a_returned_school_is_told_so(world):
    """TH001's figures were returned: its scorecard and PDF say Trả lại, with the reason, never
    'Đã nộp đúng hạn' as its state."""
    v = world["views"]
    row = world["status"][world["status"]["school_id"] == "TH001"].iloc[0]
    assert row["state"] == "tra_lai" and row["reason"]
    card = v.scorecard(Scope.everything(), "TH001", YEAR, RND)
    assert card.returned and not card.submitted_on_time and card.submission.startswith("Trả lại")
    assert card.return_reason == row["reason"]
    text = read_school_pdf(school_pdf(v, v.catalog, Scope.everything(), "TH001", YEAR, RND))["text"]
    assert "Trả lại: Phòng" in text and re.sub(r"\s+", " ", row["reason"]) in text
    assert "· Đã nộp đúng hạn" not in text


# ---- planted errors: the comparison must catch each ------------------------------------------------

def _plant(monkeypatch, name: str, broken) -> None:
    """Replace a function everywhere kpi holds it (modules import it by name)."""
    import sys

    from kpi.common import formatting
    from kpi.domain import progress

    original = {"fmt_percent": formatting.fmt_percent, "status": progress.status}[name]
    for mod in list(sys.modules.values()):
        if getattr(mod, "__name__", "").startswith("kpi") and getattr(mod, name, None) is original:
            monkeypatch.setattr(mod, name, broken)


def test_a_planted_rounding_error_is_caught(world, monkeypatch):
    from kpi.common import formatting

    def truncating(share, decimals: int = 1):  # 44,458% written 44,4%: cut, not rounded
        if share is None or share != share:
            return "—"
        return formatting.fmt_number(math.floor(share * 100 * 10 ** decimals + 1e-9) / 10 ** decimals, decimals) + "%"

    _plant(monkeypatch, "fmt_percent", truncating)
    v = views.Views(world["path"])  # no view model computed before the plant
    pack = build_pack(v, v.catalog, Scope.everything(), YEAR, RND)
    bad = compare_pack_pdf("gói (làm tròn sai)", pack_pdf(pack, v.catalog), world["truth"], line_order(pack))
    assert any("giá trị sai" in b for b in bad)


def test_a_planted_status_error_is_caught(world, monkeypatch):
    from kpi.domain import progress

    right = progress.status

    def lenient(value, target, near):  # "gần đạt" counted as "đạt"
        s = right(value, target, near)
        return "dat" if s == "gan_dat" else s

    _plant(monkeypatch, "status", lenient)
    v = views.Views(world["path"])
    pack = build_pack(v, v.catalog, Scope.everything(), YEAR, RND)
    bad = compare_xlsx("gói (tình trạng sai)", to_xlsx(pack, v.catalog), world["truth"])
    assert any("tình trạng sai" in b for b in bad)
    assert compare_vm(world["truth"], v.overview(Scope.everything(), YEAR, RND).rows, world["status"]) != []


def test_a_planted_timeliness_error_is_caught(world, tmp_path):
    """The pack of issue 25's bug: a snapshot frozen without the app's submissions."""
    import shutil

    path = tmp_path / "old.duckdb"
    shutil.copy(world["path"], path)
    state.store_for(world["path"]).copy_to(state.state_path(path))
    app = sqlite3.connect(state.state_path(path))
    with app:
        app.execute("UPDATE entries SET first_submitted_at = NULL")  # what the old freeze saw: files only
    app.close()
    sid = snapshots.freeze(path, YEAR, RND, "Họp", "chuyenvien")
    v = views.Views(path)
    pack = build_pack(v, v.catalog, Scope.everything(), YEAR, RND, sid)
    bad = compare_xlsx("gói từ bản chốt cũ", to_xlsx(pack, v.catalog), world["truth"])
    assert any("MN018" in b for b in bad) and any("TH005" in b for b in bad)


def _told_returned(v, school_id: str) -> list[str]:
    """What is wrong with how a returned school is told (empty: it is told)."""
    card = v.scorecard(Scope.everything(), school_id, YEAR, RND)
    text = read_school_pdf(school_pdf(v, v.catalog, Scope.everything(), school_id, YEAR, RND))["text"]
    bad = [] if card.returned and not card.submitted_on_time and card.submission.startswith("Trả lại") else \
        [f"trang Trường: «{card.submission}»"]
    return bad + ([] if "Trả lại: Phòng" in text and "Lý do Phòng trả lại" in text else [f"phiếu PDF: «{text[:200]}»"])


def test_a_returned_school_is_told_so_and_the_old_view_is_caught(world, monkeypatch):
    """Planted: the view model read without the state store (as before): the school is told
    'Đã nộp đúng hạn' and the check says so."""
    assert _told_returned(world["views"], "TH001") == []
    monkeypatch.setattr(views.Views, "state", property(lambda self: None))
    assert _told_returned(views.Views(world["path"]), "TH001") != []


def test_the_principal_and_the_office_see_trả_lại_on_the_page(sample_db):
    from tests.conftest import app_test

    for at in (app_test(None, user="ht.th001"), app_test("truong", user="chuyenvien", truong="TH001")):
        assert not at.exception
        assert any(w.value.startswith("Trả lại: Phòng") for w in at.warning)
        assert not any("Đã nộp đúng hạn" in s.value for s in at.success)
        assert any(m.value.startswith("Lý do Phòng trả lại: ") for m in at.markdown)


def test_the_chart_sentence_counts_only_chua_dat():
    """II.10 of issue 25: 'N trường chưa đạt' under bars marking fewer as chưa đạt (gần đạt counted)."""
    import pandas as pd

    values = [1.0] * 10 + [0.95] * 9 + [0.5] * 6  # more schools than the chart names
    statuses = ["dat"] * 10 + ["gan_dat"] * 9 + ["chua_dat"] * 6
    n = len(values)
    schools = pd.DataFrame({"school_id": [f"S{i}" for i in range(n)], "name": [f"Trường {i}" for i in range(n)],
                            "value": values, "target": [1.0] * n, "level": ["TH"] * n, "is_own": [False] * n,
                            "status": statuses})
    fig = export_charts.indicator_figure(pd.DataFrame(), schools)
    said = fig["layout"]["annotations"][0]["text"]
    assert "6 trường chưa đạt, 9 trường gần đạt / 25 trường đã báo cáo" in said
    bars = next(t for t in fig["data"] if t.get("type") == "bar" and t.get("name") == "Trường")
    assert sum(c == figures.STATUS_COLORS["chua_dat"] for c in bars["marker"]["color"]) == 6


def test_no_snapshot_without_the_app_submissions(writable_db):
    """A state store that cannot be read: the freeze is refused in Vietnamese (a snapshot of the
    files alone would call the schools that submitted in the app "chưa nộp"), and nothing is frozen."""
    from kpi.store import db

    state.state_path(writable_db).mkdir()  # a directory where the store's file should be: sqlite cannot open it
    with pytest.raises(ValueError, match="Không đọc được các lần nộp số liệu trên ứng dụng"):
        snapshots.freeze(writable_db, YEAR, RND, "Họp", "chuyenvien")
    con = db.connect(writable_db)
    try:
        assert con.execute("SELECT count(*) FROM snapshots").fetchall()[0][0] == 0
    finally:
        con.close()
