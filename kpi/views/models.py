"""View models: what a page (or an export) shows for a period, scope and data version, built once.

A `Views` object belongs to one version of the database file. Every view model it hands out
(the overview of a period, one indicator across schools, a school's scorecard, ...) is computed
once, on first use, and then shared by every session of the process and by the exports: a page
and its PDF can never disagree, and a page run that finds its view model ready does no database
or pandas work at all. An import or a snapshot swaps the file in (new identity): the pages then
take a new `Views`, and the old one with all it holds is dropped.

Concurrency: Streamlit runs each session in its own thread. When several sessions ask for the
same missing view model at once, one computes it and the others wait for it (no stampede of
identical queries before a deadline). Each query takes its own DuckDB cursor.

Nothing here imports streamlit.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd
import pyarrow as pa

from kpi.admin import auth, plans
from kpi.catalog.model import LEVEL_LABELS, OWNERSHIP_LABELS, TARGET_BASES, Catalog, default_catalog
from kpi.common.access import Scope
from kpi.common.formatting import fmt_datetime, fmt_int, fmt_number, fmt_percent, fmt_points, search_key
from kpi.display import figures, tables
from kpi.domain import checks, laggards, maturity, privacy, progress, quality, scorecard, scoring
from kpi.store import db, queries, state
from kpi.workflows import assessment, entry

SLICE_MAX_SCHOOLS = 3000  # a unit up to this size is read once into memory for its small queries
MISSING_NAMES = 12  # the Chỉ tiêu page names this many schools without data, then "…"
# Memory a worker may spend on view models ($KPI_VIEW_MB): the least recently used go first.
MAX_BYTES = int(os.environ.get("KPI_VIEW_MB", "300")) * 2**20


def approx_bytes(value, _depth: int = 0) -> int:
    """Roughly what a kept value occupies: frames by their buffers, view models by their frames."""
    if isinstance(value, pa.Table):
        return int(value.nbytes) + 1024
    if isinstance(value, pd.DataFrame):
        try:
            return int(value.memory_usage(index=True, deep=False).sum()) + 1024
        except Exception:  # noqa: BLE001 - an estimate
            return 1024 * (len(value) + 1)
    if _depth > 2:
        return 256
    if isinstance(value, (list, tuple)):
        return 64 + sum(approx_bytes(v, _depth + 1) for v in value[:1000]) * max(1, len(value) // 1000)
    if isinstance(value, dict):
        return 64 + sum(approx_bytes(v, _depth + 1) for v in list(value.values())[:1000])
    if hasattr(value, "__dict__"):
        return 256 + sum(approx_bytes(v, _depth + 1) for v in vars(value).values())
    if isinstance(value, str):
        return 50 + len(value)
    return 64


# ---- view models ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Tile:
    """One target of the overview, every text decided."""

    code: str
    heading: str          # "II.10 · Học sinh học Tin học quốc tế (TH)"
    value: str            # "17,5%"
    target: str           # "chỉ tiêu 20%"
    status: str           # status code (colour)
    status_text: str      # "✖ Chưa đạt"
    gap: str              # "còn thiếu 37 học sinh"
    change: str           # "tăng 2,5 điểm % so với kỳ trước"
    reporting: str        # "17/18 trường đã báo cáo"
    is_index: bool


@dataclass
class OverviewView:
    """Tổng quan of a period for a scope and filters: the overview rows with their change since
    the previous round, the status counts, the tiles by theme, the table."""

    rows: pd.DataFrame
    catalog: Catalog
    note: str = ""

    @property
    def empty(self) -> bool:
        return self.rows.empty or self.rows["schools_reporting"].sum() == 0

    @functools.cached_property
    def counts(self) -> dict[str, int]:
        c = self.rows["status"].value_counts()
        return {"dat": int(c.get("dat", 0)), "gan_dat": int(c.get("gan_dat", 0)),
                "chua_dat": int(c.get("chua_dat", 0)), "all": len(self.rows)}

    @functools.cached_property
    def themes(self) -> list[tuple[str, list[Tile]]]:
        """(theme label, tiles) in the plan's order."""
        out = []
        for theme in self.catalog.themes.values():
            part = self.rows[self.rows["theme"] == theme.code]
            if part.empty:
                continue
            tiles = []
            for r in part.to_dict("records"):
                lv = "" if r["level"] == progress.ALL_LEVELS else f" ({r['level']})"
                tiles.append(Tile(
                    r["indicator_code"], f"{r['clause']} · {r['label']}{lv}", fmt_percent(r["value"]),
                    f"chỉ tiêu {fmt_percent(r['target'])}", r["status"], figures.status_text(r["status"]),
                    progress.gap_sentence(r), progress.change_sentence(r["change"]),
                    f"{fmt_int(r['schools_reporting'])}/{fmt_int(r['schools_expected'])} trường đã báo cáo",
                    r["indicator_code"] == maturity.INDEX_CODE))
            out.append((theme.label_vi, tiles))
        return out

    @functools.cached_property
    def table(self) -> pd.DataFrame:
        return progress.overview_table(self.rows, self.catalog)

    @functools.cached_property
    def figure(self):
        return figures.progress_bars(self.rows)


@dataclass
class IndicatorView:
    """Chỉ tiêu: one indicator over time and across the schools of a period."""

    code: str
    caption: str
    trend: pd.DataFrame        # kpi.domain.progress.trend_rows
    values: pd.DataFrame       # kpi.store.queries.school_values (for a principal: kpi.domain.privacy.principal_values)
    note: str = ""             # why figures about other schools are left out (small group), if they are

    @property
    def has_trend(self) -> bool:
        return not self.trend.empty and self.trend["value"].notna().sum() > 0

    @property
    def has_values(self) -> bool:
        return self.values["value"].notna().sum() > 0

    @functools.cached_property
    def missing_sentence(self) -> str:
        missing = self.values[self.values["value"].isna()]
        if missing.empty:
            return ""
        named = missing[missing["school_id"].notna()] if "school_id" in missing.columns else missing
        names = [n for n in named["name"].head(MISSING_NAMES) if isinstance(n, str)]  # others stay unnamed
        listed = (": " + ", ".join(names) + ("…" if len(named) > MISSING_NAMES else "")) if names else ""
        return f"{fmt_int(len(missing))} trường chưa có số liệu kỳ này (không tính là 0){listed}"

    @functools.cached_property
    def trend_table(self) -> pd.DataFrame:
        return tables.trend_table(self.trend)

    @functools.cached_property
    def school_table(self) -> pd.DataFrame:
        return tables.school_table(self.values)

    @functools.cached_property
    def trend_figure(self):
        return figures.trend_chart(self.trend)

    @property
    def reporting(self) -> int:
        return int(self.values["value"].notna().sum())

    @functools.cached_property
    def schools_figure(self):
        return figures.school_bars(self.values) if self.reporting <= 300 else figures.school_histogram(self.values)


@dataclass(frozen=True)
class Card:
    """One target on a school's scorecard, every text decided."""

    code: str
    heading: str      # "II.10 · Học sinh học Tin học quốc tế"
    value: str        # "22,8%" or "Có"
    target: str       # "chỉ tiêu 40%"
    status: str
    status_text: str
    sparkline: str    # inline SVG
    peers: str        # "Toàn đơn vị 43,8% · xếp thứ 3/16 trường TH đã báo cáo"


@dataclass
class MaturityBlock:
    """A school's maturity index for one school year."""

    school_year: str
    level: int
    groups: list[tuple[str, str, str]]    # (group label, "62,5 điểm", "Mức 2")
    roads: list[str]                      # one sentence per group: what closes the gap
    criteria: pd.DataFrame                # the school's criterion rows (for the chart)
    names: dict
    short: dict = field(default_factory=dict)
    sources: str = ""                     # where the points come from (scorecard.maturity_sources)

    @functools.cached_property
    def figure(self):
        return figures.criteria_bars(self.criteria, self.names, short=self.short)


@dataclass
class ScorecardView:
    """Trường: one school's period, its targets, its maturity index and what to do next."""

    school_id: str
    name: str
    caption: str
    submission: str
    submitted_on_time: bool
    cards: list[Card]
    next_steps: list[str]
    maturity: MaturityBlock | None
    returned: bool = False  # the Phòng sent the figures back: the school must fix them and submit again
    return_reason: str = ""  # what the Phòng wrote (plain text, typed by a person)

    @property
    def has_data(self) -> bool:
        return bool(self.cards) and any(c.value != "Chưa có số liệu" for c in self.cards)


@dataclass
class CompareView:
    """So sánh: per indicator, schools that moved up to đạt or fell back between periods A and B."""

    rows: pd.DataFrame

    @property
    def empty(self) -> bool:
        return self.rows.empty or (self.rows["reporting_a"].sum() == 0 and self.rows["reporting_b"].sum() == 0)

    @functools.cached_property
    def table(self) -> pd.DataFrame:
        return tables.compare_table(self.rows)

    @property
    def most_moved(self) -> str | None:
        """The indicator where most schools moved (up to đạt or back): the one the page opens on."""
        if self.rows.empty:
            return None
        moved = self.rows["moved_up"] + self.rows["fell_back"]
        return self.rows["indicator_code"].iloc[int(moved.to_numpy().argmax())]

    @functools.cached_property
    def figure(self):
        return figures.compare_bars(self.rows)


@dataclass(frozen=True)
class FormField:
    """One field of a school's entry form, every text decided."""

    code: str
    label: str            # "Tổng số học sinh (trẻ)"
    unit: str             # "học sinh"
    kind: str             # count | number | bool
    required: bool
    previous: str         # the approved value of the previous period as shown ('1.234', 'Có'), '' if none


@dataclass
class EntryForm:
    """Nộp số liệu: the fields a school reports (grouped like the template), the approved values
    of this period (where the form starts when the school has no entry) and of the previous one
    (shown beside each field; the soft checks compare with them)."""

    school_id: str
    name: str
    level: str
    school_year: str
    round: str
    previous_label: str                      # the previous period: "2023-2024 HK1" ("kỳ trước" when none)
    groups: list[tuple[str, list[FormField]]]
    approved: dict[str, float]
    previous: dict[str, float]
    deadline: object = None

    @property
    def fields(self) -> list[FormField]:
        return [f for _, fs in self.groups for f in fs]

    @property
    def previous_heading(self) -> str:
        """'Kỳ trước (2023-2024 HK1)'."""
        return f"Kỳ trước ({self.previous_label})" if self.previous_label != "kỳ trước" else "Kỳ trước"


@dataclass
class QualityView:
    """Chất lượng số liệu of a period (approved and submitted values): per field, and the outliers."""

    table: pd.DataFrame
    outliers: pd.DataFrame


@dataclass
class _Pending:
    event: threading.Event = field(default_factory=threading.Event)
    value: object = None
    error: BaseException | None = None


# ---- the shared store of one file version -------------------------------------------------------

class Views:
    """Every view model of one version of the database file, each computed once (see module doc).

    `maxsize` bounds the number of view models kept (least recently used dropped first): enough
    for every school of a district in every period, and a bounded memory at national scale."""

    def __init__(self, path: str | Path, identity: tuple | None = None, catalog: Catalog | None = None,
                 maxsize: int = 20_000, max_bytes: int | None = None):
        self.path = str(path)
        self.identity = identity or db.file_identity(path)
        self.con = db.connect(path)
        # targets published in the app (Quản trị) replace targets.toml's for their years
        self.catalog = catalog or plans.catalog_with_plans(self.con, default_catalog())
        self.maxsize = maxsize
        self.max_bytes = max_bytes if max_bytes is not None else MAX_BYTES
        self.nbytes = 0
        self._sizes: dict = {}
        self._memo: OrderedDict = OrderedDict()
        self._pending: dict = {}
        self._lock = threading.Lock()
        self.hits = self.misses = 0
        self._state = None

    @property
    def state(self):
        """The shared state store beside the file (None for views over a caller's connection)."""
        if self._state is None and self.path:
            self._state = state.store_for(self.path)
        return self._state

    @classmethod
    def of_connection(cls, con, catalog: Catalog | None = None) -> "Views":
        """View models over a connection the caller owns (a command, a test): not shared, not closed."""
        v = cls.__new__(cls)
        v.path, v.identity, v.con, v.maxsize = "", None, con, 20_000
        v.catalog = catalog or plans.catalog_with_plans(con, default_catalog())
        v._memo, v._pending, v._lock, v.hits, v.misses, v._owned = OrderedDict(), {}, threading.Lock(), 0, 0, False
        v.max_bytes, v.nbytes, v._sizes, v._state = MAX_BYTES, 0, {}, None
        return v

    def close(self) -> None:
        if getattr(self, "_owned", True):
            self.con.close()

    def __del__(self):  # the last session reading this file version is gone
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    def memo(self, key: tuple, compute):
        """The value for `key`, computed by `compute()` once (others asking meanwhile wait)."""
        with self._lock:
            if key in self._memo:
                self._memo.move_to_end(key)
                self.hits += 1
                return self._memo[key]
            pending = self._pending.get(key)
            owner = pending is None
            if owner:
                pending = self._pending[key] = _Pending()
                self.misses += 1
        if not owner:
            pending.event.wait()
            if pending.error is not None:
                raise pending.error
            return pending.value
        try:
            # A scope that asks for pending values computes with them laid over the approved ones;
            # anything else (even computed inside such a compute) reads approved figures only.
            version = next((k.pending for k in key if isinstance(k, Scope) and k.pending is not None), None)
            with queries.pending_from(None if version is None else self.pending_tables(version)):
                value = compute()
        except BaseException as e:
            pending.error = e
            with self._lock:
                self._pending.pop(key, None)
            pending.event.set()
            raise
        size = approx_bytes(value)
        with self._lock:
            self._memo[key] = value
            self._sizes[key] = size
            self.nbytes += size
            while len(self._memo) > 1 and (len(self._memo) > self.maxsize or self.nbytes > self.max_bytes):
                old, _ = self._memo.popitem(last=False)
                self.nbytes -= self._sizes.pop(old, 0)
            self._pending.pop(key, None)
        pending.value = value
        pending.event.set()
        return value

    def _local(self, scope: Scope):
        """For a unit's scope on live data: run the queries on the unit's observations, read once
        into memory (a principal's pages at national scale ask a dozen small questions of one
        district; each would otherwise scan every school's rows). Else nothing changes."""
        if scope.unit_id is None or scope.snapshot_id is not None:
            return contextlib.nullcontext()
        if len(self.school_list(Scope(scope.unit_id))) > SLICE_MAX_SCHOOLS:
            return contextlib.nullcontext()
        piece = self.memo(("unit_slice", scope.unit_id), lambda: queries.unit_observations(self.con, scope.unit_id))
        return queries.observations_from(piece)

    # ---- small facts ----------------------------------------------------------------------------

    def meta(self) -> dict:
        """Database facts: is_sample, unit_name, data_version, ..."""
        return self.memo(("meta",), lambda: queries.meta(self.con))

    def periods(self) -> pd.DataFrame:
        return self.memo(("periods",), lambda: queries.periods(self.con))

    def wards(self, scope: Scope) -> list[str]:
        return self.memo(("wards", scope.unit_id), lambda: queries.wards(self.con, scope))

    def snapshots(self) -> pd.DataFrame:
        return self.memo(("snapshots",), lambda: queries.snapshots(self.con))

    def school_list(self, scope: Scope, period: tuple[str, str] | None = None) -> pd.DataFrame:
        """The open schools in scope; with `period`, the schools of that period (closed ones included)."""
        return self.memo(("school_list", scope.unit_id, scope.school_id, period),
                         lambda: queries.school_list(self.con, scope, period))

    def search_keys(self, scope: Scope) -> dict[str, str]:
        def build():
            df = self.school_list(scope)
            return {i: search_key(f"{n} {i}") for n, i in zip(df["name"], df["school_id"])}
        return self.memo(("search_keys", scope.unit_id, scope.school_id), build)

    def index_years(self) -> list[str]:
        return self.memo(("index_years",), lambda: queries.index_years(self.con))

    def user(self, user_name: str) -> dict | None:
        """The users row (with its hash), read once per file version (users change only by a write)."""
        return self.memo(("user", user_name), lambda: auth.user_row(self.con, user_name))

    def previous_period(self, year: str, rnd: str) -> tuple[str, str] | None:
        return progress.previous_period(self.periods(), year, rnd)

    def deadline(self, year: str, rnd: str):
        p = self.periods()
        d = p.loc[(p["school_year"] == year) & (p["round"] == rnd), "deadline"]
        return d.iloc[0] if len(d) else None

    # ---- the overview ---------------------------------------------------------------------------

    def summary(self, scope: Scope, year: str, rnd: str, level=None, ownership=None, ward=None) -> pd.DataFrame:
        """kpi.store.queries.district_summary (aggregates name no school: shared by every user of the unit)."""
        sc = replace(scope, school_id=None)

        def build():
            with self._local(sc):
                return queries.district_summary(self.con, self.catalog, sc, year, rnd, level, ownership, ward)
        return self.memo(("summary", sc, year, rnd, level, ownership, ward), build)

    def maturity_counts(self, scope: Scope, years, level=None, ownership=None, ward=None) -> pd.DataFrame:
        years = tuple(years)
        return self.memo(("maturity_counts", scope, years, level, ownership, ward),
                         lambda: queries.maturity_counts(self.con, self.catalog, scope, list(years), level, ownership,
                                                         ward))

    def _overview_rows(self, scope: Scope, year: str, rnd: str, level, ownership, ward) -> pd.DataFrame:
        summary = self.summary(scope, year, rnd, level, ownership, ward)
        base = progress.overview_rows(summary, self.catalog)
        if base.empty or base["schools_reporting"].sum() == 0:
            return base
        iy = maturity.index_year_for(year, rnd)
        counts = self.maturity_counts(scope, (iy,), level, ownership, ward)
        return maturity.with_index_row(base, counts, summary, self.catalog, iy)

    def overview(self, scope: Scope, year: str, rnd: str, level=None, ownership=None, ward=None) -> OverviewView:
        """The overview of a period, with the change since the previous round (for pages and packs)."""
        def build():
            rows = self._overview_rows(scope, year, rnd, level, ownership, ward)
            if not (rows.empty or rows["schools_reporting"].sum() == 0):
                prev = self.previous_period(year, rnd)
                rows = progress.with_change(
                    rows, self._overview_rows(scope, *prev, level, ownership, ward) if prev else None)
            note = ""
            if scope.is_school:
                rows, hidden = privacy.principal_overview(rows)
                note = privacy.group_note() if hidden else ""
            return OverviewView(rows, self.catalog, note)
        return self.memo(("overview", scope, year, rnd, level, ownership, ward), build)

    # ---- one indicator --------------------------------------------------------------------------

    def indicator_trend(self, scope: Scope, code: str, level=None, ownership=None, ward=None) -> pd.DataFrame:
        """The district's value per period (pooled); for a principal, periods with fewer than
        privacy.MIN_GROUP schools reporting are left blank."""
        return self._indicator_trend(scope, code, level, ownership, ward)[0]

    def _indicator_trend(self, scope: Scope, code: str, level, ownership, ward) -> tuple[pd.DataFrame, bool]:
        sc = scope.shared()

        def raw():
            with self._local(sc):
                return queries.indicator_trend(self.con, self.catalog, sc, code, level, ownership, ward)
        per_level = self.memo(("trend_levels", sc, code, level, ownership, ward), raw)
        rows = self.memo(("trend", sc, code, level, ownership, ward), lambda: progress.trend_rows(per_level))
        return privacy.principal_trend(rows, per_level=per_level) if scope.is_school else (rows, False)

    def school_values(self, scope: Scope, code: str, period: tuple[str, str], earlier=None, level=None,
                      ownership=None, ward=None) -> pd.DataFrame:
        """kpi.store.queries.school_values: per school; for a principal, kpi.domain.privacy's reduction of the
        unit's rows (own school named, others anonymous and without counts, none in a small group)."""
        return self._school_values(scope, code, period, earlier, level, ownership, ward)[0]

    def _school_values(self, scope: Scope, code: str, period, earlier, level, ownership,
                       ward) -> tuple[pd.DataFrame, bool]:
        period, earlier = tuple(period), tuple(earlier) if earlier else None
        sc = scope.shared()

        def build():
            with self._local(sc):
                return queries.school_values(self.con, self.catalog, sc, code, period, earlier, level, ownership, ward)
        rows = self.memo(("school_values", sc, code, period, earlier, level, ownership, ward), build)
        if not scope.is_school:
            return rows, False
        return self.memo(("school_values_for", scope, code, period, earlier, level, ownership, ward),
                         lambda: privacy.principal_values(rows, scope.school_id))

    def indicator(self, scope: Scope, code: str, year: str, rnd: str, level=None, ownership=None,
                  ward=None) -> IndicatorView:
        """Chỉ tiêu: the indicator's caption, its district trend and its schools this period."""
        def build():
            ind = self.catalog.indicators[code]
            targets = [self.catalog.target_for(code, lv, year) for lv in ind.levels]
            target_text = "; ".join(f"{lv} {fmt_percent(t.value)}" for lv, t in zip(ind.levels, targets) if t)
            basis = next((TARGET_BASES[t.basis] for t in targets if t), "chưa có chỉ tiêu cho năm học này")
            caption = (f"Mục {ind.clause} · {', '.join(LEVEL_LABELS[lv] for lv in ind.levels)} · "
                       f"chỉ tiêu {target_text or '—'} ({basis}) · Năm học {year} · {rnd}")
            prev = self.previous_period(year, rnd)
            trend, hidden_trend = self._indicator_trend(scope, code, level, ownership, ward)
            values, hidden_rows = self._school_values(scope, code, (year, rnd), prev, level, ownership, ward)
            return IndicatorView(code, caption, trend, values,
                                 privacy.group_note() if hidden_trend or hidden_rows else "")
        return self.memo(("indicator", scope, code, year, rnd, level, ownership, ward), build)

    def laggards(self, scope: Scope, year: str, rnd: str, level=None, ownership=None,
                 ward=None) -> laggards.LaggardsView:
        """Ai đang chậm: every target of the period, the schools short of it (an office scope)."""
        def build():
            rows = self.overview(scope, year, rnd, level, ownership, ward).rows
            prev = self.previous_period(year, rnd)  # as the Chỉ tiêu page asks: one query for both
            codes = [c for c in dict.fromkeys(rows.get("indicator_code", [])) if c in self.catalog.indicators]
            values = {c: self.school_values(scope, c, (year, rnd), prev, level, ownership, ward) for c in codes}
            return laggards.build(rows, values, self.catalog)
        return self.memo(("laggards", scope, year, rnd, level, ownership, ward), build)

    # ---- one school -----------------------------------------------------------------------------

    def school_info(self, scope: Scope, school_id: str, year: str, rnd: str) -> dict | None:
        return self.memo(("school_info", scope, school_id, year, rnd),
                         lambda: queries.school_info(self.con, scope, school_id, year, rnd))

    def level_values(self, scope: Scope, level: str, year: str, rnd: str) -> pd.DataFrame:
        """Every school of a level in the unit with its values of a period (shared by all its
        principals; only ever reduced to places and district values before anyone sees it)."""
        sc = scope.shared()

        def build():
            with self._local(sc):
                return queries.level_values(self.con, self.catalog, sc, level, year, rnd)
        return self.memo(("level_values", sc, level, year, rnd), build)

    def school_maturity(self, scope: Scope, school_id: str, years) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(criteria, schools) of one school only (a scorecard needs no other school's scores)."""
        sc = replace(scope, school_id=school_id)
        years = tuple(years)
        return self.memo(("school_maturity", sc, years),
                         lambda: queries.maturity(self.con, self.catalog, sc, list(years)))

    def scorecard(self, scope: Scope, school_id: str, year: str, rnd: str) -> ScorecardView | None:
        """A school's scorecard for a period; None when the school is out of the caller's scope. Its
        submission sentence counts the school's own submission in the app (kpi.workflows.entry) too."""
        card = self.memo(("scorecard", scope, school_id, year, rnd),
                         lambda: self._scorecard(scope, school_id, year, rnd))
        if card is None or scope.snapshot_id is not None or self.state is None:
            return card
        status = self.submission_status(Scope(scope.unit_id, school_id), year, rnd)
        if status.empty:
            return card
        row = status.iloc[0]
        sentence = scorecard.submission_status({"deadline": row["deadline"], "received_at": row["received_at"]})
        if row["state"] == "tra_lai":
            reason = "" if pd.isna(row["reason"]) else str(row["reason"]).strip()
            return replace(card, submission=scorecard.returned_sentence(sentence, row["decided_by"]),
                           submitted_on_time=False, returned=True, return_reason=reason)
        again = row["submitted_at"]  # the first arrival decides timeliness; a later one is named as what it is
        if not pd.isna(again) and fmt_datetime(again) != fmt_datetime(row["received_at"]):
            sentence += f" Nộp lại trên ứng dụng lúc {fmt_datetime(again)}."
        if row["state"] == "da_nop":
            sentence += " Số liệu đang chờ Phòng duyệt (chưa tính vào số liệu toàn đơn vị)."
        if sentence == card.submission:
            return card
        return replace(card, submission=sentence, submitted_on_time=sentence.startswith("Đã nộp đúng hạn"))

    def _scorecard(self, scope: Scope, school_id: str, year: str, rnd: str) -> ScorecardView | None:
        cat = self.catalog
        info = self.school_info(scope, school_id, year, rnd)
        if info is None:
            return None
        level = info["level"]
        defs = [d for d in cat.target_rows(year) if d["level"] == level]
        indicators = privacy.peer_rows(self.level_values(scope, level, year, rnd), defs, school_id,
                                       privacy.MIN_GROUP if scope.is_school else None)
        rows = scorecard.cards(indicators, cat)
        with self._local(scope):
            trend = queries.school_trend(self.con, cat, scope, school_id, year)
        lines = {code: part["value"].tolist() for code, part in trend.groupby("indicator_code", sort=False)}
        cards = []
        for c in rows.to_dict("records"):
            target = None if pd.isna(c["target"]) else c["target"]
            cards.append(Card(c["indicator_code"], f"{c['clause']} · {c['label']}", scorecard.value_text(c),
                              scorecard.target_text(c), c["status"], figures.status_text(c["status"]),
                              figures.sparkline_svg(lines.get(c["indicator_code"], []), target),
                              scorecard.peer_sentence(c, level) if not pd.isna(c["district_value"]) else
                              f"Dưới {privacy.MIN_GROUP} trường {level} đã báo cáo: không so sánh với các trường khác."))
        has_data = not rows.empty and rows["value"].notna().any()
        steps = scorecard.next_steps(rows) if has_data else []
        block = None
        iy = maturity.index_year_for(year, rnd)
        crit_all, scored = self.school_maturity(scope, school_id, [iy])
        mine = scored[(scored["school_id"] == school_id) & (scored["school_year"] == iy)]
        if len(mine):
            row = mine.iloc[0]
            crit = crit_all[(crit_all["school_id"] == school_id) & (crit_all["school_year"] == iy)]
            groups = [(f"Nhóm {cat.index.groups[g]}", f"{fmt_points(row[f'{g.lower()}_points'])} điểm",
                       f"Mức {row[f'{g.lower()}_level']}") for g in cat.index.groups]
            roads = [scoring.road_to_next_level(crit, row, g, cat).sentence for g in cat.index.groups]
            block = MaturityBlock(iy, int(row["school_level"]), groups, roads, crit,
                                  {k: c.name_vi for k, c in cat.criteria.items()},
                                  {k: c.short_vi for k, c in cat.criteria.items()},
                                  scorecard.maturity_sources(crit, cat.index.precedence))
        submission = scorecard.submission_status(info)
        caption = (f"{LEVEL_LABELS[info['level']]} · {OWNERSHIP_LABELS[info['ownership']]} · {info['ward']} · "
                   f"{info['unit_name']} · Năm học {year} · {rnd}")
        return ScorecardView(school_id, info["name"], caption, submission, submission.startswith("Đã nộp đúng hạn"),
                             cards, steps, block)

    # ---- two periods ----------------------------------------------------------------------------

    def compare(self, scope: Scope, a: tuple[str, str], b: tuple[str, str], level=None, ownership=None,
                ward=None, snapshot_a: str | None = None, snapshot_b: str | None = None) -> CompareView:
        """Periods A and B, each read from its own source (a snapshot, or None = live)."""
        a, b = tuple(a), tuple(b)
        mixed = snapshot_a is not None or snapshot_b is not None or scope.snapshot_id is not None  # else: live
        return self.memo(("compare", scope, a, b, level, ownership, ward, snapshot_a, snapshot_b),
                         lambda: CompareView(progress.compare_rows(queries.compare_periods(
                             self.con, self.catalog, scope, a, b, level, ownership, ward, snapshot_a, snapshot_b,
                             mixed=mixed), self.catalog)))

    def school_values_between(self, scope: Scope, code: str, b: tuple[str, str], a: tuple[str, str], level=None,
                              ownership=None, ward=None, snapshot_a=None, snapshot_b=None) -> pd.DataFrame:
        """School values of period B (from snapshot_b) against period A (from snapshot_a)."""
        sc, a, b = scope.with_snapshot(snapshot_b), tuple(a), tuple(b)
        mixed = snapshot_a is not None or snapshot_b is not None  # both live: the plain query
        return self.memo(("values_between", sc, code, b, a, level, ownership, ward, snapshot_a),
                         lambda: queries.school_values(self.con, self.catalog, sc, code, b, a, level, ownership, ward,
                                                       snapshot_earlier=snapshot_a, mixed=mixed))

    # ---- the maturity index ---------------------------------------------------------------------

    def maturity_lost(self, scope: Scope, year: str, level=None, ownership=None, ward=None) -> pd.DataFrame:
        return self.memo(("maturity_lost", scope, year, level, ownership, ward),
                         lambda: queries.maturity_lost(self.con, self.catalog, scope, year, level, ownership, ward))

    def maturity_heatmap(self, scope: Scope, year: str, order: str, limit: int, level=None, ownership=None,
                         ward=None) -> pd.DataFrame:
        return self.memo(("maturity_heatmap", scope, year, order, limit, level, ownership, ward),
                         lambda: queries.maturity_heatmap(self.con, self.catalog, scope, year, order, limit, level,
                                                          ownership, ward))

    def maturity_review(self, scope: Scope, year: str, flagged_only: bool, limit: int, level=None, ownership=None,
                        ward=None):
        return self.memo(("maturity_review", scope, year, flagged_only, limit, level, ownership, ward),
                         lambda: queries.maturity_review(self.con, self.catalog, scope, year, flagged_only, limit,
                                                         level, ownership, ward))

    # ---- the office's data ----------------------------------------------------------------------

    def submission_status(self, scope: Scope, year: str, rnd: str) -> pd.DataFrame:
        """Who submitted when (a file the Phòng imported, or the app), on time or late, and where
        each school's entry stands: read again whenever the schools' entries change."""
        version = self.workflow_version() if scope.snapshot_id is None else None
        open_ = entry.open_period(self.periods())

        def build():
            times = None if version is None else self.memo(  # one read of the store per version, for every scope
                ("entry_times", year, rnd, version), lambda: entry.entry_times(self.state, year, rnd, open_))
            # a snapshot holds arrivals, not the entries' workflow: nothing in it is open for entry
            return queries.submission_status(self.con, scope, year, rnd, times,
                                             (year, rnd) == open_ and scope.snapshot_id is None)
        return self.memo(("submission_status", scope, year, rnd, version), build)

    def field_completeness(self, scope: Scope, year: str, rnd: str) -> pd.DataFrame:
        return self.memo(("field_completeness", scope, year, rnd),
                         lambda: queries.field_completeness(self.con, self.catalog, scope, year, rnd))

    # ---- the schools' entries (kpi.workflows.entry) ----------------------------------------------------------

    def workflow_version(self) -> int | None:
        """The version of the schools' entries in the state store (None without a store)."""
        return None if self.state is None else self.state.workflow_version()

    def pending_tables(self, version: int):
        """The submitted, not yet approved values as of `version` (kpi.workflows.entry.pending_tables)."""
        return self.memo(("pending_tables", version), lambda: entry.pending_tables(self.state))

    def scope_levels(self, scope: Scope) -> tuple[dict[str, str], dict[str, str]]:
        """(school id → cấp học, school id → name) of the schools a user may act on."""
        def build():
            df = self.school_list(scope)
            return dict(zip(df["school_id"], df["level"])), dict(zip(df["school_id"], df["name"]))
        return self.memo(("scope_levels", scope.unit_id, scope.school_id), build)

    def desk(self, scope: Scope):
        """Where a user reads and changes entries (kpi.workflows.entry.Desk), limited to the user's schools."""
        levels, names = self.scope_levels(Scope(scope.unit_id, scope.school_id))
        return entry.Desk(Path(self.path), self.state, self.catalog, levels, entry.open_period(self.periods()), names)

    # ---- the yearly maturity assessment (kpi.workflows.assessment) ---------------------------------------------

    def assessor(self, scope: Scope):
        """Where a user reads and changes the maturity assessments (kpi.workflows.assessment.Assessor),
        limited to the user's schools (a principal: the own school only)."""
        levels, names = self.scope_levels(Scope(scope.unit_id, scope.school_id))
        return assessment.Assessor(Path(self.path), self.state, self.catalog, dict(levels), names)

    def suggestions(self, scope: Scope, school_id: str, year: str) -> tuple[dict[str, float], dict[str, str]]:
        """(criterion → points the school's reported data earn, criterion → the figures used, in
        words) for one school and school year; empty outside the scope."""

        def build():
            sc = Scope(scope.unit_id, scope.school_id)
            figs = queries.assessment_figures(self.con, self.catalog, sc, school_id, year)
            if figs.empty:
                return {}, {}
            frame = pd.DataFrame({"school_id": school_id, "school_year": year, "field_code": figs["field_code"],
                                  "value": figs["value"].astype(float)})
            comp = scoring.computed_points(frame, self.catalog)
            points = {c: float(v) for c, v in zip(comp["criterion_code"], comp["computed"])}
            values = dict(zip(figs["field_code"], figs["value"]))
            rounds = dict(zip(figs["field_code"], figs["round"]))
            used = {}
            for code in points:
                c = self.catalog.criteria[code]
                parts = [f"{self.catalog.fields[f].label_vi}: {fmt_number(values[f], 0)} ({rounds[f]} {year})"
                         for f in (c.numerator_field, c.denominator_field) if f and f in values]
                used[code] = "; ".join(parts)
            return points, used
        return self.memo(("suggestions", scope.unit_id, scope.school_id, school_id, year), build)

    def publications(self, scope: Scope, school_year: str | None = None) -> pd.DataFrame:
        """The published results of the maturity assessment (kpi.store.queries.publications)."""
        sc = Scope(scope.unit_id, scope.school_id)
        return self.memo(("publications", sc, school_year), lambda: queries.publications(self.con, sc, school_year))

    def entry_form(self, scope: Scope, school_id: str, year: str, rnd: str) -> EntryForm | None:
        """The entry form of a school for a period; None when the school is out of the scope."""
        return self.memo(("entry_form", Scope(scope.unit_id, scope.school_id), school_id, year, rnd),
                         lambda: self._entry_form(Scope(scope.unit_id, scope.school_id), school_id, year, rnd))

    def _entry_form(self, scope: Scope, school_id: str, year: str, rnd: str) -> EntryForm | None:
        if scope.is_school and scope.school_id != school_id:
            return None
        levels, names = self.scope_levels(scope)
        if school_id not in levels:
            return None
        level, cat = levels[school_id], self.catalog
        prev = self.previous_period(year, rnd)
        df = queries.school_period_values(self.con, scope, school_id, (year, rnd), prev)
        approved = {c: float(v) for c, v in zip(df["field_code"], df["value"]) if not pd.isna(v)}
        previous = {c: float(v) for c, v in zip(df["field_code"], df["previous"]) if not pd.isna(v)}
        groups: dict[str, list[FormField]] = {}
        for f in cat.fields_for(level):
            groups.setdefault(f.group or "Khác", []).append(FormField(
                f.code, f.label_vi, f.unit, f.kind, f.required, checks.shown_value(f, previous.get(f.code))))
        label = f"{prev[0]} {prev[1]}" if prev else "kỳ trước"
        return EntryForm(school_id, names[school_id], level, year, rnd, label, list(groups.items()), approved,
                         previous, self.deadline(year, rnd))

    def quality(self, scope: Scope, year: str, rnd: str) -> QualityView:
        """Chất lượng số liệu of a period: approved values with the submitted ones laid over them."""

        version = self.workflow_version() or 0
        sc = replace(scope, school_id=None).with_pending(version)

        def build():
            values = queries.period_values(self.con, sc, year, rnd)
            flagged = entry.flagged_values(self.state, year, rnd)
            levels, _ = self.scope_levels(Scope(scope.unit_id))
            flagged = flagged[flagged["school_id"].isin(list(levels)) & (flagged["state"] != "nhap")]  # drafts: not yet data
            expected = pd.Series(list(levels.values())).value_counts().to_dict()
            far = quality.outliers(values, self.catalog)
            return QualityView(quality.field_table(values, flagged, expected, self.catalog, far),
                               quality.outlier_table(far, self.catalog))
        return self.memo(("quality", sc, year, rnd), build)

    # ---- figures --------------------------------------------------------------------------------

    def figure(self, key: tuple, build):
        """A plotly figure kept with the view models (building one costs ~10-20 ms)."""
        return self.memo(("figure", *key), build)


_VIEWS: dict[str, Views] = {}
_VIEWS_LOCK = threading.Lock()


def views_for(path: str | Path, identity: tuple | None = None) -> Views:
    """The `Views` of the current version of the file at `path` (a new one after every write)."""
    path = str(path)
    identity = identity or db.file_identity(path)
    v = _VIEWS.get(path)
    if v is not None and v.identity == identity:
        return v
    with _VIEWS_LOCK:
        v = _VIEWS.get(path)
        if v is None or v.identity != identity:
            v = _VIEWS[path] = Views(path, identity)
        return v


def forget_all() -> None:
    """Drop every Views (tests; a process that wants its memory back)."""
    with _VIEWS_LOCK:
        _VIEWS.clear()
