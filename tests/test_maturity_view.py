"""Chỉ số CĐS's own view model (kpi.views.maturity, issue 26 item 2): the page reads it and does no
arithmetic and no filtering of frames itself; the view model states the scores' figures."""

from __future__ import annotations

import ast
from pathlib import Path

from kpi.catalog.model import default_catalog
from kpi.common.access import Scope
from kpi.store import queries
from kpi.views import cache as views

ROOT = Path(__file__).resolve().parents[1]
CAT = default_catalog()
ARITHMETIC = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.BitAnd, ast.BitOr)


def page_work(text: str) -> list[str]:
    """Arithmetic, frame filtering (a subscript holding a comparison or a boolean mask) and SQL in a page."""
    out = []
    for n in ast.walk(ast.parse(text)):
        if isinstance(n, (ast.BinOp, ast.AugAssign)) and isinstance(n.op, ARITHMETIC):
            out.append(f"dòng {n.lineno}: phép tính")
        elif isinstance(n, ast.Subscript) and any(isinstance(m, (ast.Compare, ast.BinOp, ast.Call))
                                                  for m in ast.walk(n.slice)):
            out.append(f"dòng {n.lineno}: lọc bảng")
        elif isinstance(n, ast.Constant) and isinstance(n.value, str) and "SELECT " in n.value.upper():
            out.append(f"dòng {n.lineno}: SQL")
    return out


def test_the_maturity_page_is_thin():
    text = (ROOT / "pages" / "chi_so.py").read_text(encoding="utf-8")
    assert page_work(text) == []
    # planted: what the page did before it had a view model
    planted = text + ('\nmeeting = sum(n for m, n in view.counts.items() if m >= 2) / view.scored\n'
                      'rows = candidates[candidates["level"] == level]\n')
    assert page_work(planted) == ["dòng %d: phép tính" % (text.count("\n") + 2),
                                  "dòng %d: lọc bảng" % (text.count("\n") + 3)]


def test_the_view_model_states_the_scores(sample_db, con):
    v = views.Views(sample_db)
    scope, year = Scope.everything(), "2023-2024"
    schools = queries.maturity_schools(con, CAT, scope, [year])
    page = v.maturity_page(scope, year)
    assert not page.empty and page.scored == len(schools)
    assert [m[1] for m in page.metrics[1:]] == [str(int((schools.school_level == m).sum())) for m in (1, 2, 3)]
    assert v.maturity_page(scope, year) is page  # built once per file version
    heat = v.maturity_heat(scope, year, "total", "DH", 500)
    assert heat.matrix.columns.tolist() and all(CAT.criteria[c].group_code == "DH" for c in heat.matrix.columns)
    assert len(heat.matrix) == len(schools) and heat.table_note == ""
    some = schools.school_id.iloc[0]
    assert len(v.maturity_roads(scope, year, some)) == len(CAT.index.groups)
    assert v.maturity_roads(scope, year, "KHONG_CO") == []
    assert set(v.maturity_candidates(scope, "THCS").level) == {"THCS"}
    assert v.maturity_page(scope, "1999-2000").empty
