"""The view models of one version of the database file, each built once and shared.

A `Views` object belongs to one version of the database file. Every view model it hands out
(the overview of a period, one indicator across schools, a school's scorecard, ...: one module per
page in kpi/views/) is computed once, on first use, and then shared by every session of the
process and by the exports: a page and its PDF can never disagree, and a page run that finds its
view model ready does no database or pandas work at all. An import or a snapshot swaps the file in
(new identity): a worker that has been warmed (`serve`) builds the new version's first view models
in a background thread (`WARMER`: kpi.views.warm.first_visits) while its readers keep the old one
(`views_for(..., stale_ok=True)`), then moves them to the new one, and the old one with all it holds
is dropped once no run reads it. Meanwhile both versions are held (twice the memory, for that time).

Concurrency: Streamlit runs each session in its own thread. When several sessions ask for the
same missing view model at once, one computes it and the others wait for it (no stampede of
identical queries before a deadline). Each query takes its own DuckDB cursor, and reads the
source `Views.source` gives it for its scope (kpi.store.source.Source: nothing is set per thread).

Nothing here imports streamlit.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from kpi.admin import auth, plans
from kpi.catalog.model import Catalog, default_catalog
from kpi.common import exiting
from kpi.common.access import Scope
from kpi.common.formatting import search_key
from kpi.domain import progress
from kpi.store import db, queries, state
from kpi.store.source import Source
from kpi.views import compare, entry_form, indicator, laggards, maturity, overview, quality, scorecard, self_assessment
from kpi.workflows import assessment, entry

SLICE_MAX_SCHOOLS = 3000  # a unit up to this size is read once into memory for its small queries
# Memory a worker may spend on view models ($KPI_VIEW_MB). When it is full, the model that is cheapest to build
# again for the memory it frees goes first, the least recently used of equals first (GreedyDual-Size: each model's
# worth is its build time per MB on top of the worth of the last one dropped, so an old model loses to newer ones
# in time). Plain least-recently-used dropped the office's models over 53.000 schools (seconds to build again, the
# warm-up's first and so the oldest) for the principals' slices and tables (milliseconds) as the load went on.
MAX_BYTES = int(os.environ.get("KPI_VIEW_MB", "300")) * 2**20
COST_FLOOR_S = 0.02  # a model built faster than this counts as this cheap (equals: least recently used first)


TEXT_CELL_BYTES = 48  # a text cell's share of its column's buffers (a school's name, a ward: about 30 UTF-8 bytes)


def approx_bytes(value, _depth: int = 0) -> int:
    """Roughly what a kept value occupies: frames by their buffers, view models by their frames."""
    if isinstance(value, pa.Table):
        return int(value.nbytes) + 1024
    if isinstance(value, pd.DataFrame):
        # from the dtypes alone: DataFrame.memory_usage builds a Series per column, which cost more
        # than the rest of a small view model's build
        return 1024 + len(value) * (8 + sum(getattr(dt, "itemsize", TEXT_CELL_BYTES) for dt in value.dtypes))
    if isinstance(value, np.ndarray):
        return int(value.nbytes) + (TEXT_CELL_BYTES * value.size if value.dtype == object else 0)
    if isinstance(getattr(value, "nbytes", None), int):  # a kept structure that knows its size (LevelPeers)
        return int(value.nbytes)
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


@dataclass
class _Pending:
    event: threading.Event = field(default_factory=threading.Event)
    value: object = None
    error: BaseException | None = None


class Views:
    """Every view model of one version of the database file, each computed once (see module doc).

    `maxsize` bounds the number of view models kept (least recently used dropped first): enough
    for every school of a district in every period, and a bounded memory at national scale.
    `recorder`: a list that receives every query this file version runs (kpi.store.queries.Recording;
    pages._bench replays them)."""

    def __init__(self, path: str | Path, identity: tuple | None = None, catalog: Catalog | None = None,
                 maxsize: int = 20_000, max_bytes: int | None = None, recorder: list | None = None):
        self.path = str(path)
        self.identity = identity or db.file_identity(path)
        self.con = db.connect(path)
        if recorder is not None:
            self.con = queries.Recording(self.con, recorder)
        # targets published in the app (Quản trị) replace targets.toml's for their years
        self.catalog = catalog or plans.catalog_with_plans(self.con, default_catalog())
        self.maxsize = maxsize
        self.max_bytes = max_bytes if max_bytes is not None else MAX_BYTES
        self.nbytes = 0
        self._sizes: dict = {}
        self._costs: dict = {}    # key → seconds its build took (at least COST_FLOOR_S)
        self._worth: dict = {}    # key → its GreedyDual-Size worth (the lowest goes first)
        self._floor = 0.0         # the worth of the last model dropped
        self._gone: dict = {}     # key → (weak reference, size, cost) of a dropped model (`_drop_cheapest`)
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
        v._costs, v._worth, v._floor, v._gone = {}, {}, 0.0, {}
        return v

    def close(self) -> None:
        if getattr(self, "_owned", True):
            self.con.close()

    def __del__(self):  # the last session reading this file version is gone
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    def memo(self, key: tuple, compute, cost: float | None = None):
        """The value for `key`, computed by `compute()` once (others asking meanwhile wait). `cost`: the seconds
        building it again would take, when `compute` only hands over what was built with others (else timed)."""
        with self._lock:
            if key in self._memo:
                self._memo.move_to_end(key)
                self._worth[key] = self._floor + self._costs[key] / self._sizes[key]
                self.hits += 1
                return self._memo[key]
            if self._taken_back(key):
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
        started = time.perf_counter()
        try:
            value = compute()
        except BaseException as e:
            pending.error = e
            with self._lock:
                self._pending.pop(key, None)
            pending.event.set()
            raise
        size = max(1, approx_bytes(value))
        took = max(COST_FLOOR_S, time.perf_counter() - started if cost is None else cost)
        with self._lock:
            self._keep(key, value, size, took)
            self._pending.pop(key, None)
        pending.value = value
        pending.event.set()
        return value

    def _keep(self, key: tuple, value, size: int, cost: float) -> None:
        """Keep `value` for `key` (its size and cost to build again), then drop the cheapest others until within
        the bounds. Under the lock."""
        self.nbytes += size - self._sizes.get(key, 0)  # (never counted twice)
        self._memo[key], self._sizes[key], self._costs[key] = value, size, cost
        self._worth[key] = self._floor + cost / size
        while len(self._memo) > 1 and (len(self._memo) > self.maxsize or self.nbytes > self.max_bytes):
            self._drop_cheapest(keep=key)

    def _drop_cheapest(self, keep: tuple) -> None:
        """Drop the kept model of the lowest worth (the least recently used of equals), never `keep` (the one
        just built); the floor rises to its worth. A model that can be weakly referenced is remembered so, with its
        size and cost (`_taken_back`). Under the lock."""
        worth = self._worth
        old = min((k for k in self._memo if k != keep), key=worth.__getitem__)  # in use order: equals, oldest first
        self._floor = max(self._floor, worth.pop(old))
        value = self._memo.pop(old)
        size, cost = self._sizes.pop(old, 0), self._costs.pop(old, COST_FLOOR_S)
        self.nbytes -= size
        with contextlib.suppress(TypeError):  # tuples, lists, dicts: gone for good
            self._gone[old] = (weakref.ref(value), size, cost)
        if len(self._gone) > 2 * len(self._memo) + 100:
            self._gone = {k: g for k, g in self._gone.items() if g[0]() is not None}

    def _taken_back(self, key: tuple) -> bool:
        """A dropped model still held elsewhere (the page a session shows, its downloads) back in the cache instead
        of built again: one copy in the worker, not two, and no build. Under the lock."""
        gone = self._gone.pop(key, None)
        value = gone[0]() if gone else None
        if value is None:
            return False
        _ref, size, cost = gone
        self._keep(key, value, size, cost)
        return True

    def source(self, scope: Scope, local: bool = False) -> Source:
        """Where the queries of `scope` read: its snapshot; or live data, with the schools' pending
        values of its workflow version laid over (`scope.pending`), and with `local`, for a unit
        of at most SLICE_MAX_SCHOOLS schools, the unit's observations read once into memory (a
        principal's pages at national scale ask a dozen small questions of one district; each
        would otherwise scan every school's rows). `local` only for queries within the unit."""
        if scope.snapshot_id is not None:
            return Source(scope.snapshot_id)
        pending = None if scope.pending is None else self.pending_tables(scope.pending)
        piece = None
        if local and scope.unit_id is not None and len(self.school_list(Scope(scope.unit_id))) <= SLICE_MAX_SCHOOLS:
            piece = self.memo(("unit_slice", scope.unit_id), lambda: queries.unit_observations(self.con, scope.unit_id))
        return Source(pending=pending, slice=piece)

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

    def publications(self, scope: Scope, school_year: str | None = None) -> pd.DataFrame:
        """The published results of the maturity assessment (kpi.store.queries.publications)."""
        sc = Scope(scope.unit_id, scope.school_id)
        return self.memo(("publications", sc, school_year), lambda: queries.publications(self.con, sc, school_year))

    def figure(self, key: tuple, build):
        """A plotly figure kept with the view models (building one costs ~10-20 ms)."""
        return self.memo(("figure", *key), build)

    # ---- Quản trị's tables (every change is a write that makes a new version) -------------------------

    def user_list(self) -> pd.DataFrame:
        """Every account (no password hashes)."""
        return self.memo(("user_list",), lambda: queries.run(self.con, "user_list"))

    def target_plans(self) -> pd.DataFrame:
        """Every published version of every school year's targets."""
        return self.memo(("target_plans",), lambda: queries.target_plans(self.con))

    def admin_schools(self) -> pd.DataFrame:
        """Every school ever recorded, open, closed or merged, with its dates."""
        return self.memo(("admin_schools",), lambda: queries.admin_schools(self.con))

    def admin_units(self) -> pd.DataFrame:
        return self.memo(("admin_units",), lambda: queries.admin_units(self.con))

    def reference_changes(self) -> pd.DataFrame:
        return self.memo(("reference_changes",), lambda: queries.reference_changes(self.con))

    # ---- the schools' entries (kpi.workflows.entry) and assessments (kpi.workflows.assessment) ------------

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

    def period_desk(self, scope: Scope, year: str, rnd: str):
        """The entries desk for deciding one period (entry.Desk.for_period: a school closed since then stays
        decidable), kept per scope and period: over 53.000 schools making it cost 130 ms a run."""
        sc = Scope(scope.unit_id, scope.school_id)
        return self.memo(("period_desk", sc, year, rnd),
                         lambda: self.desk(sc).for_period(self.school_list(sc, (year, rnd))))

    def assessor(self, scope: Scope):
        """Where a user reads and changes the maturity assessments (kpi.workflows.assessment.Assessor),
        limited to the user's schools (a principal: the own school only)."""
        sc = Scope(scope.unit_id, scope.school_id)

        def desk():
            levels, names = self.scope_levels(sc)
            return assessment.Assessor(Path(self.path), self.state, self.catalog, dict(levels), names)
        return self.memo(("assessor", sc), desk)  # one per scope: its roster is made once (kpi.workflows.assessment)

    # ---- each page's view models and the reads behind them (one module per page) --------------------------

    def summary(self, scope: Scope, year: str, rnd: str, level=None, ownership=None, ward=None) -> pd.DataFrame:
        """kpi.store.queries.district_summary (aggregates name no school: shared by every user of the unit)."""
        return overview.summary(self, scope, year, rnd, level, ownership, ward)

    def overview(self, scope: Scope, year: str, rnd: str, level=None, ownership=None,
                 ward=None) -> overview.OverviewView:
        """Tổng quan (kpi.views.overview)."""
        return overview.build(self, scope, year, rnd, level, ownership, ward)

    def indicator_trend(self, scope: Scope, code: str, level=None, ownership=None, ward=None) -> pd.DataFrame:
        """The district's value per period (pooled); for a principal, periods with fewer than
        privacy.MIN_GROUP schools reporting are left blank."""
        return indicator.trend(self, scope, code, level, ownership, ward)[0]

    def school_values(self, scope: Scope, code: str, period: tuple[str, str], earlier=None, level=None,
                      ownership=None, ward=None) -> pd.DataFrame:
        """kpi.store.queries.school_values: per school; for a principal, kpi.domain.privacy's reduction of the
        unit's rows (own school named, others anonymous and without counts, none in a small group)."""
        return indicator.school_values(self, scope, code, period, earlier, level, ownership, ward)[0]

    def indicator(self, scope: Scope, code: str, year: str, rnd: str, level=None, ownership=None,
                  ward=None) -> indicator.IndicatorView:
        """Chỉ tiêu (kpi.views.indicator)."""
        return indicator.build(self, scope, code, year, rnd, level, ownership, ward)

    def laggards(self, scope: Scope, year: str, rnd: str, level=None, ownership=None,
                 ward=None) -> laggards.LaggardsView:
        """Ai đang chậm (kpi.views.laggards): every target of the period, the schools short of it."""
        return laggards.build(self, scope, year, rnd, level, ownership, ward)

    def school_info(self, scope: Scope, school_id: str, year: str, rnd: str) -> dict | None:
        return scorecard.school_info(self, scope, school_id, year, rnd)

    def level_peers(self, scope: Scope, level: str, year: str, rnd: str):
        """Every school of a level in the unit with its values of a period, kept for places and district
        values (kpi.views.scorecard, kpi.domain.privacy.LevelPeers)."""
        return scorecard.level_peers(self, scope, level, year, rnd)

    def scorecard(self, scope: Scope, school_id: str, year: str, rnd: str) -> scorecard.ScorecardView | None:
        """Trường (kpi.views.scorecard); None when the school is out of the caller's scope."""
        return scorecard.build(self, scope, school_id, year, rnd)

    def compare(self, scope: Scope, a: tuple[str, str], b: tuple[str, str], level=None, ownership=None,
                ward=None, snapshot_a: str | None = None, snapshot_b: str | None = None) -> compare.CompareView:
        """So sánh (kpi.views.compare): periods A and B, each read from its own source (a snapshot, or None = live)."""
        return compare.build(self, scope, a, b, level, ownership, ward, snapshot_a, snapshot_b)

    def school_values_between(self, scope: Scope, code: str, b: tuple[str, str], a: tuple[str, str], level=None,
                              ownership=None, ward=None, snapshot_a=None, snapshot_b=None) -> pd.DataFrame:
        """School values of period B (from snapshot_b) against period A (from snapshot_a)."""
        return compare.school_values_between(self, scope, code, b, a, level, ownership, ward, snapshot_a, snapshot_b)

    def maturity_counts(self, scope: Scope, years, level=None, ownership=None, ward=None) -> pd.DataFrame:
        return maturity.counts(self, scope, years, level, ownership, ward)

    def school_maturity(self, scope: Scope, school_id: str, years) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(criteria, schools) of one school only (a scorecard needs no other school's scores)."""
        return maturity.school_maturity(self, scope, school_id, years)

    def maturity_lost(self, scope: Scope, year: str, level=None, ownership=None, ward=None) -> pd.DataFrame:
        return maturity.lost(self, scope, year, level, ownership, ward)

    def maturity_heatmap(self, scope: Scope, year: str, order: str, limit: int, level=None, ownership=None,
                         ward=None) -> pd.DataFrame:
        return maturity.heatmap(self, scope, year, order, limit, level, ownership, ward)

    def maturity_review(self, scope: Scope, year: str, flagged_only: bool, limit: int, level=None, ownership=None,
                        ward=None):
        return maturity.review(self, scope, year, flagged_only, limit, level, ownership, ward)

    def maturity_page(self, scope: Scope, year: str, level=None, ownership=None, ward=None) -> maturity.MaturityView:
        """Chỉ số CĐS (kpi.views.maturity): the head of the page and the distribution tab."""
        return maturity.build(self, scope, year, level, ownership, ward)

    def maturity_heat(self, scope: Scope, year: str, order: str, group: str | None, limit: int, level=None,
                      ownership=None, ward=None) -> maturity.HeatmapView:
        return maturity.heat(self, scope, year, order, group, limit, level, ownership, ward)

    def maturity_lost_view(self, scope: Scope, year: str, level=None, ownership=None, ward=None) -> maturity.LostView:
        return maturity.lost_view(self, scope, year, level, ownership, ward)

    def maturity_review_view(self, scope: Scope, year: str, flagged_only: bool, limit: int, level=None,
                             ownership=None, ward=None) -> maturity.ReviewView:
        return maturity.review_view(self, scope, year, flagged_only, limit, level, ownership, ward)

    def maturity_candidates(self, scope: Scope, level=None, ownership=None, ward=None) -> pd.DataFrame:
        """The open schools of the index's cấp học under the filters (whose road the page shows)."""
        return maturity.candidates(self, scope, level, ownership, ward)

    def maturity_roads(self, scope: Scope, year: str, school_id: str) -> list[tuple[str, str]]:
        """(heading, sentence) per group: what closes a school's gap to the next level."""
        return maturity.roads(self, scope, year, school_id)

    def submission_status(self, scope: Scope, year: str, rnd: str) -> pd.DataFrame:
        """Who submitted when, and where each school's entry stands (kpi.views.quality)."""
        return quality.submission_status(self, scope, year, rnd)

    def submission_table(self, scope: Scope, year: str, rnd: str) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(submission_status, its table as a person reads it), kept per version of the entries (kpi.views.quality)."""
        return quality.submission_table(self, scope, year, rnd)

    def field_completeness(self, scope: Scope, year: str, rnd: str) -> pd.DataFrame:
        return quality.field_completeness(self, scope, year, rnd)

    def quality(self, scope: Scope, year: str, rnd: str) -> quality.QualityView:
        """Chất lượng số liệu of a period (kpi.views.quality): approved values with the submitted ones over them."""
        return quality.build(self, scope, year, rnd)

    def entry_form(self, scope: Scope, school_id: str, year: str, rnd: str) -> entry_form.EntryForm | None:
        """Nộp số liệu (kpi.views.entry_form); None when the school is out of the scope."""
        return entry_form.build(self, scope, school_id, year, rnd)

    def suggestions(self, scope: Scope, school_id: str, year: str) -> tuple[dict[str, float], dict[str, str]]:
        """(criterion → points the school's reported data earn, criterion → the figures used in words),
        for Tự đánh giá CĐS (kpi.views.self_assessment)."""
        return self_assessment.suggestions(self, scope, school_id, year)


_VIEWS: dict[str, Views] = {}  # the newest version of each file
_SERVED: dict[str, Views] = {}  # what readers who may wait for nothing get: the newest once it is warm
_WARMING: dict[str, threading.Thread] = {}
_VIEWS_LOCK = threading.Lock()
# What is built for a new version before readers get it (kpi.views.warm.first_visits); None: nothing
# (a process that never called `serve`, e.g. a command or a test, reads the newest version cold).
WARMER = None
# The longest a reader is served the older version once a newer one exists ($KPI_STALE_MAX_S): an approval
# or a publication reaches every page within this (plus the watch's second), warm or not.
STALE_MAX_S = float(os.environ.get("KPI_STALE_MAX_S", "3"))
_NEWER_SINCE: dict[str, tuple[tuple, float]] = {}  # path → (the newer version's identity, when it was written)


def views_for(path: str | Path, identity: tuple | None = None, recorder: list | None = None,
              stale_ok: bool = False) -> Views:
    """The `Views` of the current version of the file at `path` (a new one after every write).
    With `recorder`, a new one whose queries are noted in it (pages._bench).

    `stale_ok` (a page run of someone who has not just written): while a newer version's view
    models are being built in the background (`WARMER`, started here or by `watch`), the version
    served so far, so no reader pays the cold cost; then the new one, and after STALE_MAX_S the new
    one whether built or not (a change never waits longer to reach every reader). Without it (the default: a
    login's account lookup, the writer right after their write, commands, exports) the newest
    version at once, built on demand where the background build has not got yet (both share one
    `Views`, so nothing is computed twice)."""
    path = str(path)
    identity = identity or db.file_identity(path)
    v = _VIEWS.get(path)
    if v is None or v.identity != identity or recorder is not None:
        with _VIEWS_LOCK:
            v = _VIEWS.get(path)
            if v is None or v.identity != identity or recorder is not None:
                v = _VIEWS[path] = Views(path, identity, recorder=recorder)
    if not stale_ok or recorder is not None:
        return v
    served = _SERVED.get(path)
    if served is v:
        return v
    if served is None or WARMER is None:
        _SERVED[path] = v
        return v
    _warm_in_background(v)
    since = _NEWER_SINCE.get(path)
    if since is None or since[0] != v.identity:
        since = _NEWER_SINCE[path] = (v.identity, _written_at(v.identity))
    if time.time() - since[1] >= STALE_MAX_S:  # built or not, the newest now (sharing the build)
        return v
    return served


def _written_at(identity: tuple) -> float:
    """When the version was written (its file's mtime, db.file_identity): the staleness bound runs from
    the write, not from when this worker first looked (a busy worker may look late)."""
    return min(time.time(), identity[1] / 1e9)


def serve(v: Views, warmer=None) -> None:
    """Readers get `v` from now on (the worker's warm-up built it); `warmer(views)` builds each
    later version's view models before readers get that one."""
    global WARMER
    if warmer is not None:
        WARMER = warmer
    with _VIEWS_LOCK:
        _SERVED[v.path] = v


def served(path: str | Path) -> Views | None:
    """The version readers who may wait for nothing get now (None before the first)."""
    return _SERVED.get(str(path))


def _warm_in_background(v: Views) -> None:
    """Build `v`'s first visitors' view models in a thread, then serve it (once per version)."""
    with _VIEWS_LOCK:
        running = _WARMING.get(v.path)
        if (running is not None and running.is_alive()) or exiting.exiting():
            return
        t = _WARMING[v.path] = threading.Thread(target=_warm_then_serve, args=(v,), daemon=True,
                                                name=f"kpi-warm-{v.identity}")
        exiting.stop_at_exit(t)
        t.start()


def _warm_then_serve(v: Views) -> None:
    try:
        if WARMER is not None:
            WARMER(v)
    except Exception:  # noqa: BLE001 - a version that cannot be warmed is served cold rather than never
        pass
    finally:
        with _VIEWS_LOCK:
            _SERVED[v.path] = v
            _WARMING.pop(v.path, None)
            _NEWER_SINCE.pop(v.path, None)
            newest = _VIEWS.get(v.path)
        if newest is not None and newest is not v:  # a write came while this one warmed: warm that one too
            _warm_in_background(newest)


def watch(path: str | Path, every: float = 1.0, stop: threading.Event | None = None) -> threading.Thread:
    """A thread that looks at the file every `every` seconds and starts building a new version's
    view models as soon as it appears (before any reader of this worker asks); until `stop` is set."""
    path = str(path)
    stop = stop or threading.Event()

    def run():
        while not stop.wait(every):
            identity = db.file_identity(path)
            if identity is not None:
                with contextlib.suppress(Exception):  # a file being swapped in: the next look
                    views_for(path, identity, stale_ok=True)

    t = threading.Thread(target=run, name="kpi-watch", daemon=True)
    exiting.stop_at_exit(t, stop.set)
    t.start()
    return t


def forget_all() -> None:
    """Drop every Views (tests; a process that wants its memory back)."""
    global WARMER
    with _VIEWS_LOCK:
        _VIEWS.clear()
        _SERVED.clear()
        _NEWER_SINCE.clear()
        WARMER = None
