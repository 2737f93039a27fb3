"""The meeting pack's view model: what a pack shows, gathered from the pages' own view models.

`build_pack` gathers a period's figures (live, or from a snapshot) for the caller's scope from
`kpi.views` (the overview with its sentences, every indicator's trend and schools), so a pack says
what the pages say. `pack_charts` lays it out as the charts of the pack (one image size for every
format: the chart builders of `kpi.display` given the print medium), each with its heading and the page's
sentences. The writers of `kpi.exports` read both; the Báo cáo page builds the pack through them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import unicodedata
from dataclasses import dataclass, field

import pandas as pd

from kpi.catalog.model import LEVEL_LABELS, Catalog
from kpi.common.access import Scope
from kpi.common.faults import ExportError
from kpi.common.formatting import fmt_datetime, fmt_int
from kpi.display.export_charts import indicator_figure, yes_no_figure
from kpi.display.figures import level_distribution, progress_bars
from kpi.display.medium import CHART_H, CHART_W, PRINT
from kpi.domain import maturity, progress
from kpi.store import queries
from kpi.views import cache as views
from kpi.workflows import publication, snapshots

SAMPLE_LABEL = "Dữ liệu mẫu (trường và số liệu giả định)"
# A pack over more schools than this lists units, not schools (`Pack.units`): on the national file (53.000
# schools) the submissions of every school took the PDF 91 s and every school × target the workbook 99 s and
# 57 MB, which no meeting reads; each school's figures stay on the pages and in their downloads.
LIST_MAX_SCHOOLS = 3000
UNITS_NOTE = ("Phạm vi có {n} trường: các bảng liệt kê theo đơn vị trực thuộc, không theo từng trường "
              "(số liệu từng trường xem ở các trang Chỉ tiêu, Dữ liệu và tải từ đó).")


@dataclass(frozen=True)
class Line:
    """One row of the overview as the pack shows it: its numbers and the page's own sentences."""

    theme: str        # the theme's label
    row: dict         # kpi.domain.progress.overview_rows' row, with change
    tile: object      # kpi.views.Tile: value, target, status, gap, change and reporting, as on the page

    @property
    def label(self) -> str:
        lv = self.row["level"]
        return self.row["label"] + ("" if lv == progress.ALL_LEVELS else f" ({lv})")


@dataclass
class Pack:
    """Everything a meeting pack shows."""

    unit: str
    school_year: str
    round: str
    snapshot: dict | None
    generated_at: dt.datetime
    is_sample: bool
    rows: pd.DataFrame
    trends: dict[str, pd.DataFrame] = field(default_factory=dict)
    values: dict[str, pd.DataFrame] = field(default_factory=dict)
    maturity_dist: pd.DataFrame | None = None
    maturity_year: str = ""
    maturity_published: str = ""  # the publication id of the year's results ("" = not published: tạm tính)
    furthest: pd.DataFrame | None = None
    submissions: pd.DataFrame | None = None
    lines: list[Line] = field(default_factory=list)
    scope: Scope = field(default_factory=Scope)
    catalog: Catalog | None = None
    views: object = None
    units: pd.DataFrame | None = None  # over LIST_MAX_SCHOOLS schools: school_id → unit_id, unit (queries.pack_units)
    _unit_rows: dict = field(default_factory=dict, repr=False)  # unit_rows, by target
    charts: list | None = field(default=None, repr=False)  # pack_charts, once asked (a writer in a child reads it)

    @property
    def units_note(self) -> str:
        """Why the lists are by unit ("" when they list schools)."""
        return _units_note(len(self.submissions))

    def unit_rows(self, code: str) -> pd.DataFrame:
        """`unit_values` of one target of this pack, computed once (each target's sheet and the wide sheet)."""
        if code not in self._unit_rows:
            self._unit_rows[code] = unit_values(self.values[code], self.units)
        return self._unit_rows[code]

    @functools.cached_property
    def unit_submissions(self) -> pd.DataFrame:
        """`unit_submissions` of this pack, computed once (the PDF, the HTML and the workbook list it)."""
        return unit_submissions(self.submissions, self.units)

    @property
    def period(self) -> str:
        return f"Năm học {self.school_year} · {self.round}"

    @property
    def source(self) -> str:
        if self.snapshot is None:
            return "Số liệu trực tiếp (chưa chốt)"
        return (f"Bản chốt {self.snapshot['snapshot_id']} ({self.snapshot['name']}, "
                f"{fmt_datetime(self.snapshot['created_at'])}) · mã băm {self.snapshot['content_hash'][:16]}")

    @property
    def stamp(self) -> str:
        """The line every page, slide and sheet carries."""
        parts = [self.unit, self.period, self.source, f"Tạo lúc {fmt_datetime(self.generated_at)}"]
        if self.is_sample:
            parts.append(SAMPLE_LABEL)
        return " · ".join(parts)

    @property
    def file_stem(self) -> str:
        """'bao_cao_2023-2024_CN' (+ '_<snapshot id>'): the downloads' name."""
        sid = self.snapshot["snapshot_id"] if self.snapshot else ""
        return f"bao_cao_{self.school_year}_{self.round}" + (f"_{sid}" if sid else "")


def build_pack(source, catalog: Catalog, scope: Scope, school_year: str, round: str,
               snapshot_id: str | None = None) -> Pack:
    """Gather a period's district figures (from a snapshot when given) for a meeting pack.

    `source`: the `kpi.views.cache.Views` of the file (the pages' own view models, so a pack shows exactly
    what the pages show, and reuses what they already computed) or a read-only connection."""
    v = source if isinstance(source, views.Views) else views.Views.of_connection(source, catalog)
    # gathered once per file version, scope and period (the warm-up does it: kpi.views.warm), stamped per click
    key = ("pack", scope.with_snapshot(snapshot_id), school_year, round)
    pack = v.memo(key, lambda: _gather(v, catalog, scope, school_year, round, snapshot_id))
    return dataclasses.replace(pack, generated_at=dt.datetime.now())


def _gather(v, catalog: Catalog, scope: Scope, school_year: str, round: str, snapshot_id: str | None) -> Pack:
    snap = None
    if snapshot_id:
        snap = snapshots.snapshot_info(v.con, snapshot_id)
        if snap is None:
            raise ExportError(f"Không có bản chốt {snapshot_id}.")
        if (snap["school_year"], snap["round"]) != (school_year, round):
            raise ExportError(f"Bản chốt {snapshot_id} là của kỳ {snap['school_year']} {snap['round']}.")
    sc = scope.with_snapshot(snapshot_id)
    meta = v.meta()
    ov = v.overview(sc, school_year, round)
    rows = ov.rows
    if "change" not in rows.columns:
        rows = progress.with_change(rows, None)
    pack = Pack(meta.get("unit_name", ""), school_year, round, snap, dt.datetime.now(),
                meta.get("is_sample") == "true", rows, scope=sc, catalog=catalog, views=v)
    for code in catalog.indicators:
        ind = v.indicator(sc, code, school_year, round)
        pack.trends[code] = _until(ind.trend, school_year, round)
        pack.values[code] = ind.values
    my = maturity.index_year_for(school_year, round)
    counts = v.maturity_counts(sc, (my,))
    if len(counts):
        pack.maturity_dist = maturity.distribution(counts, catalog)
        pack.maturity_year = my
        done = publication.latest(v.publications(sc, my), my)
        pack.maturity_published = done["publication_id"] if done else ""
    pack.lines = _lines(ov, rows, catalog)
    pack.furthest = furthest_schools(pack.values, catalog)
    pack.submissions = v.submission_status(sc, school_year, round)
    if _units_note(len(pack.submissions)):
        pack.units = v.memo(("pack_units", sc.unit_id), lambda: queries.pack_units(v.con, sc))
    return pack


def _units_note(schools: int) -> str:
    return UNITS_NOTE.format(n=fmt_int(schools)) if schools > LIST_MAX_SCHOOLS else ""


def units_note(v, scope: Scope, school_year: str, round: str) -> str:
    """What a pack of this scope and period says about its lists before it is made (the Báo cáo page): the
    sentence when it will list units, "" when it lists schools (`build_pack` decides by the same count)."""
    return _units_note(len(v.submission_status(scope, school_year, round)))


def unit_order(units: pd.DataFrame) -> dict[str, int]:
    """Each unit_id's place in the units' order (kpi/sql/pack_units.sql: by name)."""
    return {u: i for i, u in enumerate(dict.fromkeys(units["unit_id"]))}


def _unit_order(frame: pd.DataFrame, units: pd.DataFrame) -> pd.Series:
    order = unit_order(units)
    return frame["unit_id"].map(order).fillna(len(order))


def _with_units(frame: pd.DataFrame, units: pd.DataFrame) -> pd.DataFrame:
    return frame.merge(units, on="school_id", how="left").assign(
        unit=lambda d: d["unit"].fillna("Không rõ đơn vị"), unit_id=lambda d: d["unit_id"].fillna(""))


def unit_values(values: pd.DataFrame, units: pd.DataFrame) -> pd.DataFrame:
    """A target's schools (kpi.store.queries.school_values) summed per unit × cấp học, in the units' order:
    unit, level, schools expected, reporting and meeting the target, Σ numerators and Σ denominators of the
    schools that reported, and the pooled value (Σ / Σ; a unit where no school reported has none, never 0)."""
    d = _with_units(values, units)
    reported = d["value"].notna()
    d = d.assign(num=d["numerator"].where(reported), den=d["denominator"].where(reported),
                 reporting=reported.astype(int), meeting=(d["status"] == "dat").astype(int))
    grouped = d.groupby(["unit_id", "unit", "level"], sort=False, dropna=False)
    g = grouped.agg(expected=("level", "size"), reporting=("reporting", "sum"), meeting=("meeting", "sum"),
                    target=("target", "first"))
    g = g.join(grouped[["num", "den"]].sum(min_count=1).rename(columns={"num": "numerator", "den": "denominator"}))
    g = g.reset_index()
    g["value"] = (g["numerator"] / g["denominator"]).where(g["denominator"] > 0)
    g["_o"] = _unit_order(g, units)
    return g.sort_values(["_o", "level"], kind="stable").drop(columns="_o").reset_index(drop=True)


def unit_submissions(status: pd.DataFrame, units: pd.DataFrame) -> pd.DataFrame:
    """kpi.store.queries.submission_status counted per unit, the units with most schools not submitted first:
    Đơn vị, Đúng hạn, Trễ hạn, Chưa nộp, Tổng số trường."""
    d = _with_units(status, units)
    t = (pd.crosstab([d["unit_id"], d["unit"]], d["status"])
         .reindex(columns=["dung_han", "tre", "chua_nop"], fill_value=0).reset_index())
    t = t.assign(_o=_unit_order(t, units)).sort_values("_o", kind="stable")  # the units' order within a count
    out = pd.DataFrame({"Đơn vị": t["unit"].to_numpy(), "Đúng hạn": t["dung_han"].to_numpy(),
                        "Trễ hạn": t["tre"].to_numpy(), "Chưa nộp": t["chua_nop"].to_numpy()})
    out["Tổng số trường"] = out[["Đúng hạn", "Trễ hạn", "Chưa nộp"]].sum(axis=1)
    return out.sort_values(["Chưa nộp", "Trễ hạn"], ascending=False, kind="stable").reset_index(drop=True)


def _until(trend: pd.DataFrame, school_year: str, round: str) -> pd.DataFrame:
    """The trend up to the pack's period (a pack of an earlier round does not show later ones)."""
    if trend.empty:
        return trend
    order = [(y, r != "HK1") for y, r in zip(trend["school_year"], trend["round"])]
    return trend[[o <= (school_year, round != "HK1") for o in order]].reset_index(drop=True)


def _lines(ov, rows: pd.DataFrame, catalog: Catalog) -> list[Line]:
    """The overview's rows in the page's order (by theme), each with the page's tile."""
    if rows.empty or ov.empty:
        return []
    out, themes = [], iter(ov.themes)
    for theme in catalog.themes.values():
        part = rows[rows["theme"] == theme.code].to_dict("records")
        if not part:
            continue
        label, tiles = next(themes)
        for row, tile in zip(part, tiles, strict=True):
            assert tile.code == row["indicator_code"]
            out.append(Line(label, row, tile))
    return out


def furthest_schools(values: dict[str, pd.DataFrame], catalog: Catalog, limit: int = 15) -> pd.DataFrame:
    """Schools furthest from the targets: how many targets each misses, and the mean shortfall
    (a share: 0.12 = 12 percentage points)."""
    parts = []
    for code, v in values.items():
        miss = v[(v["status"] == "chua_dat") & v["school_id"].notna()]
        if len(miss):
            parts.append(pd.DataFrame({"school_id": miss["school_id"], "name": miss["name"],
                                       "shortfall": miss["target"] - miss["value"],
                                       "label": catalog.indicators[code].clause}))
    if not parts:
        return pd.DataFrame(columns=["Trường", "Số chỉ tiêu chưa đạt", "Thiếu bình quân", "Các mục"])
    d = pd.concat(parts)
    order = {c: i for i, c in enumerate(dict.fromkeys(ind.clause for ind in catalog.indicators.values()))}
    g = d.groupby(["school_id", "name"]).agg(
        n=("shortfall", "size"), mean=("shortfall", "mean"),
        clauses=("label", lambda s: ", ".join(sorted(set(s), key=lambda c: order.get(c, 0)))))
    g = g.sort_values(["n", "mean"], ascending=False).head(limit).reset_index()
    return pd.DataFrame({"Trường": g["name"], "Số chỉ tiêu chưa đạt": g["n"],
                         "Thiếu bình quân": g["mean"], "Các mục": g["clauses"]})


# ---- the charts of the pack ----------------------------------------------------------------------

@dataclass
class Chart:
    """One image of the pack: its heading, the sentence under it, and the figure as drawn."""

    name: str          # the file name in the PNG zip (no extension)
    title: str         # "II.10 · Học sinh học Tin học theo chuẩn quốc tế"
    caption: str       # the page's sentences: value, target, status, gap, change, reporting
    figure: dict       # plotly figure dict, exactly what is drawn and put in the HTML
    in_documents: bool = True   # on a slide / page of its own (the overview chart is a table there)
    code: str = ""               # the indicator it draws ("" for the overview)

    @property
    def width(self) -> int:
        return int(self.figure["layout"].get("width") or CHART_W)

    @property
    def height(self) -> int:
        return int(self.figure["layout"].get("height") or CHART_H)


def slug(text: str) -> str:
    """'Học sinh sử dụng thẻ VSSID' → 'Hoc-sinh-su-dung-the-VSSID' (a file name any system keeps)."""
    t = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    t = "".join(ch for ch in t if not unicodedata.combining(ch))
    out = "".join(ch if ch.isascii() and (ch.isalnum() or ch == ".") else "-" for ch in t)
    while "--" in out:
        out = out.replace("--", "-")
    return out.strip("-")[:70]


def indicator_caption(lines: list[Line]) -> str:
    """The page's sentences for one indicator (one line per cấp học when their targets differ)."""
    out = []
    for ln in lines:
        t = ln.tile
        lv = ln.row["level"]
        who = "Toàn đơn vị" if lv == progress.ALL_LEVELS else LEVEL_LABELS.get(lv, lv)
        parts = [f"{who} {t.value}", t.target, t.status_text, t.gap, t.change, t.reporting]
        out.append(" · ".join(p for p in parts if p))
    return "\n".join(out)


def pack_charts(pack: Pack, catalog: Catalog) -> list[Chart]:
    """Every chart of the pack, in the Tổng quan page's order (by theme, as `OverviewView.themes`;
    the Chỉ tiêu page lists its targets the same way): the overview, one per indicator, the index
    (kept with the view models: built once per pack identity)."""
    def build() -> list[Chart]:
        out = [Chart("00-tong-quan", f"Các chỉ tiêu · {pack.period}", "",
                     progress_bars(pack.rows, f"Các chỉ tiêu · {pack.period}", PRINT).to_plotly_json(),
                     in_documents=False)] \
            if pack.lines else []
        by_code: dict[str, list[Line]] = {}
        for ln in pack.lines:
            by_code.setdefault(ln.row["indicator_code"], []).append(ln)
        for code, lns in by_code.items():
            if code == maturity.INDEX_CODE:
                if pack.maturity_dist is None:
                    continue
                title = f"Mức độ chuyển đổi số · năm học {pack.maturity_year} " + (
                    f"(đã công bố, {pack.maturity_published})" if pack.maturity_published else "(tạm tính)")
                fig = level_distribution(pack.maturity_dist, medium=PRINT).to_plotly_json()
            else:
                v = pack.values.get(code)
                if v is None or not v["value"].notna().any():
                    continue
                ind = catalog.indicators[code]
                title = f"{ind.clause} · {ind.label_vi}"
                fig = (yes_no_figure if ind.kind == "bool" else indicator_figure)(pack.trends[code], v, PRINT)
            name = f"{len(out):02d}-" + (f"{catalog.indicators[code].clause}-{slug(catalog.indicators[code].label_vi)}"
                                          if code in catalog.indicators else slug(title))
            out.append(Chart(name, title, indicator_caption(lns), fig, code=code))
        return out

    if pack.charts is None:  # kept on the pack too: a writer in a forked child must not take the cache's lock
        key = ("pack_charts", pack.scope, pack.school_year, pack.round, pack.unit)
        pack.charts = build() if pack.views is None else pack.views.memo(key, build)
    return pack.charts
