"""Trường: one school's period, its targets, its maturity index and what to do next, every text decided.

Built over a file version's `kpi.views.cache.Views`; read by the page and the school's PDF. A
principal's peers are places and district values only (kpi.domain.privacy).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace

import pandas as pd

from kpi.catalog.model import LEVEL_LABELS, OWNERSHIP_LABELS
from kpi.common.access import Scope
from kpi.common.formatting import fmt_datetime, fmt_points
from kpi.display import figures
from kpi.domain import maturity, privacy, scorecard, scoring
from kpi.store import queries


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


def school_info(v, scope: Scope, school_id: str, year: str, rnd: str) -> dict | None:
    """One school's identity and its submission for the period; None when out of scope."""
    return v.memo(("school_info", scope, school_id, year, rnd),
                  lambda: queries.school_info(v.con, scope, school_id, year, rnd, source=v.source(scope)))


def level_peers(v, scope: Scope, level: str, year: str, rnd: str) -> privacy.LevelPeers:
    """Every school of a level in the unit with its values of a period (shared by all its principals;
    only ever reduced to places and district values before anyone sees it), as privacy.LevelPeers."""
    sc = scope.shared()
    return v.memo(("level_peers", sc, level, year, rnd),
                  lambda: privacy.LevelPeers(queries.level_values(v.con, v.catalog, sc, level, year, rnd,
                                                                  source=v.source(sc, local=True))))


def build(v, scope: Scope, school_id: str, year: str, rnd: str) -> ScorecardView | None:
    """A school's scorecard for a period; None when the school is out of the caller's scope. Its
    submission sentence counts the school's own submission in the app (kpi.workflows.entry) too."""
    card = v.memo(("scorecard", scope, school_id, year, rnd), lambda: _scorecard(v, scope, school_id, year, rnd))
    if card is None or scope.snapshot_id is not None or v.state is None:
        return card
    status = v.submission_status(Scope(scope.unit_id, school_id), year, rnd)
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


def _scorecard(v, scope: Scope, school_id: str, year: str, rnd: str) -> ScorecardView | None:
    cat = v.catalog
    info = v.school_info(scope, school_id, year, rnd)
    if info is None:
        return None
    level = info["level"]
    defs = [d for d in cat.target_rows(year) if d["level"] == level]
    indicators = v.level_peers(scope, level, year, rnd).rows(defs, school_id,
                                                             privacy.MIN_GROUP if scope.is_school else None)
    rows = scorecard.cards(indicators, cat)
    trend = queries.school_trend(v.con, cat, scope, school_id, year, source=v.source(scope, local=True))
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
    crit_all, scored = v.school_maturity(scope, school_id, [iy])
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
