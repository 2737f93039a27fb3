"""A pack's chart image is built for the print medium by the chart builders themselves (issue 26):
its size and every text size come from the `Medium` it is given, so a medium of 30 px text yields a
figure whose every font is 30 px. A print image made by restyling a finished screen figure with
sizes of its own (the planted restyler) does not follow the medium and is caught."""

from __future__ import annotations

import dataclasses

import pytest

from kpi.catalog.model import default_catalog
from kpi.common.access import Scope
from kpi.display import export_charts, figures
from kpi.display.medium import CHART_H, CHART_W, MIN_FONT_PX, PRINT, SCREEN
from kpi.store import db
from kpi.views import cache as views
from kpi.views import pack as pack_view

CAT = default_catalog()
YEAR, ROUND = "2023-2024", "CN"
# a medium no constant of the code has: anything drawn at another size did not come from it
PLANTED = dataclasses.replace(PRINT, width=820, height=610, text_px=30, title_px=34)
FONT_KEYS = ("font", "textfont", "tickfont", "insidetextfont", "outsidetextfont")


def font_sizes(node, where: str = "") -> list[tuple[str, float]]:
    """Every text size a figure (plotly dict) sets, its template aside: (where, size)."""
    out = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "template":
                continue
            if k in FONT_KEYS and isinstance(v, dict) and v.get("size") is not None:
                out.append((f"{where}/{k}", v["size"]))
            out += font_sizes(v, f"{where}/{k}")
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            out += font_sizes(v, f"{where}[{i}]")
    return out


def medium_problems(fig: dict, medium) -> list[str]:
    """What of a print figure does not come from its medium: its size, the default text size, any
    text at another size than the medium's text or heading size."""
    lay = fig["layout"]
    found = [f"size {lay.get('width')}×{lay.get('height')}"
             for _ in [0] if (lay.get("width"), lay.get("height")) != (medium.width, medium.height)]
    if (lay.get("font") or {}).get("size") != medium.text_px:
        found.append(f"default text {(lay.get('font') or {}).get('size')} px")
    found += [f"{w} {s} px" for w, s in font_sizes(fig) if s not in (medium.text_px, medium.title_px)]
    return found


def restyled_maturity(dist, medium=PRINT):
    """The planted violation: the screen's chart drawn, then restyled for print with sizes of its own."""
    fig = figures.level_distribution(dist)
    for t in fig.data:
        t.textfont = dict(size=MIN_FONT_PX, color="#FFFFFF")
    fig.update_layout(width=CHART_W, height=CHART_H, title=None, font=dict(size=MIN_FONT_PX),
                      xaxis=dict(tickfont=dict(size=MIN_FONT_PX)), yaxis=dict(tickfont=dict(size=MIN_FONT_PX)))
    return fig


@pytest.fixture(scope="module")
def pack(sample_db):
    con = db.connect(sample_db)
    v = views.Views.of_connection(con, CAT)
    yield pack_view.build_pack(v, CAT, Scope.everything(), YEAR, ROUND)
    con.close()


def _code(kind: str, pack) -> str:
    return next(c for c in pack.values if CAT.indicators[c].kind == kind and pack.values[c]["value"].notna().any())


def test_each_print_builder_takes_size_and_text_from_its_medium(pack):
    share, yes_no = _code("ratio", pack), _code("bool", pack)
    built = {
        "level_distribution": figures.level_distribution(pack.maturity_dist, medium=PLANTED).to_plotly_json(),
        "indicator_figure": export_charts.indicator_figure(pack.trends[share], pack.values[share], PLANTED),
        "yes_no_figure": export_charts.yes_no_figure(pack.trends[yes_no], pack.values[yes_no], PLANTED),
    }
    for name, fig in built.items():
        assert medium_problems(fig, PLANTED) == [], name
        assert {s for _, s in font_sizes(fig)} <= {30, 34} and 30 in {s for _, s in font_sizes(fig)}, name
    # the trend panel is the page's trend builder given the medium: its labels at the medium's size
    said = [t for t in built["indicator_figure"]["data"] if t.get("mode") == "lines+markers+text"]
    assert said and all(t["textfont"]["size"] == 30 for t in said)
    # the planted restyler: the screen chart finished, then sizes of its own put on it
    found = medium_problems(restyled_maturity(pack.maturity_dist, PLANTED).to_plotly_json(), PLANTED)
    assert "size 1000×500" in found and "default text 17 px" in found and any("textfont 17" in f for f in found)


def test_the_screen_medium_leaves_the_page_charts_as_they_are(pack):
    """On screen a chart is as wide as the page's column (no width) with the template's text."""
    screen = figures.level_distribution(pack.maturity_dist)
    assert screen.to_plotly_json() == figures.level_distribution(pack.maturity_dist, medium=SCREEN).to_plotly_json()
    assert screen.layout.width is None and screen.layout.font.size is None
    bars = figures.progress_bars(pack.rows)
    assert bars.layout.width is None and [t.name for t in bars.data][:3] == ["Đạt", "Gần đạt", "Chưa đạt"]
    printed = figures.progress_bars(pack.rows, medium=PLANTED)
    assert printed.layout.width == 820 and [t.name for t in printed.data][:3] == ["✔ Đạt", "◐ Gần đạt", "✖ Chưa đạt"]


def test_the_pack_builds_every_chart_for_the_print_medium(pack, monkeypatch):
    """The pack's images are drawn by the builders given its medium: with the planted medium every
    image of a slide or page has its size and text sizes; the overview image (the documents give it
    as a table; it is in the PNG zip and the HTML) has its width and keeps the screen chart's rows.
    A pack whose maturity image is the screen chart restyled afterwards is caught."""
    monkeypatch.setattr(pack_view, "PRINT", PLANTED)
    charts = pack_view.pack_charts(dataclasses.replace(pack, views=None), CAT)
    assert len([c for c in charts if c.in_documents]) > 10
    assert [(c.name, p) for c in charts if c.in_documents for p in medium_problems(c.figure, PLANTED)] == []
    assert [c.figure["layout"]["width"] for c in charts if not c.in_documents] == [820]
    monkeypatch.setattr(pack_view, "level_distribution", restyled_maturity)
    charts = pack_view.pack_charts(dataclasses.replace(pack, views=None), CAT)
    bad = {c.name for c in charts if c.in_documents and medium_problems(c.figure, PLANTED)}
    assert len(bad) == 1 and "Muc-do-chuyen-doi-so" in bad.pop()
