"""Nộp số liệu: a school's entry form for a period, every text decided.

The fields a school reports (grouped like the template), the approved values of this period (where
the form starts when the school has no entry) and of the previous one (shown beside each field;
the soft checks compare with them). Built over a file version's `kpi.views.cache.Views`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from kpi.common.access import Scope
from kpi.domain import checks
from kpi.store import queries


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


def build(v, scope: Scope, school_id: str, year: str, rnd: str) -> EntryForm | None:
    """The entry form of a school for a period; None when the school is out of the scope."""
    sc = Scope(scope.unit_id, scope.school_id)
    return v.memo(("entry_form", sc, school_id, year, rnd), lambda: _form(v, sc, school_id, year, rnd))


def _form(v, scope: Scope, school_id: str, year: str, rnd: str) -> EntryForm | None:
    if scope.is_school and scope.school_id != school_id:
        return None
    levels, names = v.scope_levels(scope)
    if school_id not in levels:
        return None
    level, cat = levels[school_id], v.catalog
    prev = v.previous_period(year, rnd)
    df = queries.school_period_values(v.con, scope, school_id, (year, rnd), prev, source=v.source(scope))
    approved = {c: float(val) for c, val in zip(df["field_code"], df["value"]) if not pd.isna(val)}
    previous = {c: float(val) for c, val in zip(df["field_code"], df["previous"]) if not pd.isna(val)}
    groups: dict[str, list[FormField]] = {}
    for f in cat.fields_for(level):
        groups.setdefault(f.group or "Khác", []).append(FormField(
            f.code, f.label_vi, f.unit, f.kind, f.required, checks.shown_value(f, previous.get(f.code))))
    label = f"{prev[0]} {prev[1]}" if prev else "kỳ trước"
    return EntryForm(school_id, names[school_id], level, year, rnd, label, list(groups.items()), approved,
                     previous, v.deadline(year, rnd))
