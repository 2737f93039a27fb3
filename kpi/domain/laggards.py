"""Ai đang chậm: for every target of a period, the schools short of it, worst first.

Built from the same rows as the other screens: the targets and their pooled district figures are
kpi.domain.progress.overview_rows (Tổng quan), a school's value and status are kpi.store.queries.school_values
(Chỉ tiêu), and the gap in units is kpi.domain.progress.gap. Nothing here imports streamlit.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from urllib.parse import urlencode

import pandas as pd

from kpi.catalog.model import Catalog
from kpi.common.access import PAGES
from kpi.common.formatting import fmt_int, fmt_number, fmt_percent
from kpi.domain import progress

SHORT = ("chua_dat", "gan_dat")  # the statuses of a school short of its target
TARGET_COLUMNS = ["indicator_code", "clause", "label", "kind", "group", "level", "levels", "value", "target",
                  "status", "gap", "gap_unit", "schools_short", "schools_missing"]
SCHOOL_COLUMNS = ["indicator_code", "clause", "label", "kind", "group", "school_id", "name", "level",
                  "value", "target", "points", "units", "gap_unit", "gap_text", "status"]
MISSING_COLUMNS = ["indicator_code", "clause", "label", "group", "school_id", "name", "level"]


def gap_text(kind: str, value, target, units, unit: str) -> str:
    """'thiếu 12,5 điểm % (37 học sinh)' for a ratio; 'chưa có' for a yes/no indicator."""
    if kind == "bool":
        return "chưa có"
    text = f"thiếu {fmt_number((target - value) * 100)} điểm %"
    return text if units is None else f"{text} ({fmt_int(units)} {unit})"


def worst_first(short: pd.DataFrame) -> pd.DataFrame:
    """School rows short of their target, the farthest below it first; ties keep the rows' order
    (kpi.store.queries.school_values: Vietnamese name order)."""
    behind = short["value"] - short["target"]
    return short.iloc[behind.to_numpy().argsort(kind="stable")]


def build(rows: pd.DataFrame, values: dict[str, pd.DataFrame], catalog: Catalog) -> "LaggardsView":
    """The view from overview rows (kpi.domain.progress.overview_rows, in the screen's order) and each
    indicator's kpi.store.queries.school_values rows. Targets without a plan target are left out; a
    school that did not report is listed apart (never as 0)."""
    targets, short, missing = [], [], []
    for r in rows.to_dict("records"):
        code = r["indicator_code"]
        if code not in catalog.indicators or r["target"] is None or pd.isna(r["target"]) or code not in values:
            continue
        ind = catalog.indicators[code]
        # a target of one cấp học among several is named with it ("(TH)"); the others need no name
        group = "" if r["level"] == progress.ALL_LEVELS or len(ind.levels) == 1 else r["level"]
        v = values[code]
        v = v[v["level"].isin(r["levels"])]
        base = {"indicator_code": code, "clause": r["clause"], "label": r["label"], "group": group}
        lag = worst_first(v[v["status"].isin(SHORT)])
        for s in lag.to_dict("records"):
            units = progress.gap(s["numerator"], s["denominator"], s["target"])
            short.append({**base, "kind": ind.kind, "school_id": s["school_id"], "name": s["name"],
                          "level": s["level"], "value": s["value"], "target": s["target"],
                          "points": (s["target"] - s["value"]) * 100, "units": units, "gap_unit": ind.gap_unit,
                          "gap_text": gap_text(ind.kind, s["value"], s["target"], units, ind.gap_unit),
                          "status": s["status"]})
        gone = v[v["value"].isna()]
        missing += [{**base, "school_id": s["school_id"], "name": s["name"], "level": s["level"]}
                    for s in gone.to_dict("records")]
        targets.append({**base, "kind": ind.kind,
                        "level": r["level"], "levels": r["levels"], "value": r["value"], "target": r["target"],
                        "status": r["status"], "gap": r["gap"], "gap_unit": r["gap_unit"],
                        "schools_short": len(lag), "schools_missing": len(gone)})
    return LaggardsView(pd.DataFrame(targets, columns=TARGET_COLUMNS), pd.DataFrame(short, columns=SCHOOL_COLUMNS),
                        pd.DataFrame(missing, columns=MISSING_COLUMNS))


def _named(label: str, group: str) -> str:
    return label + (f" ({group})" if group else "")


def school_link(school_id: str, params: dict) -> str:
    """The Trường page of a school, the period and filters kept: '/truong-hoc?truong=TH001&nam_hoc=…'."""
    return f"/{PAGES['truong'][1]}?" + urlencode({"truong": school_id, **params})


@dataclass
class LaggardsView:
    """Ai đang chậm of a period, scope and filters."""

    targets: pd.DataFrame   # one row per target, in the screen's order, with its pooled district figures
    short: pd.DataFrame     # one row per target × school short of it, worst first within a target
    missing: pd.DataFrame   # one row per target × school that did not report (never counted as 0)

    @property
    def empty(self) -> bool:
        return self.targets.empty

    def target_names(self) -> dict[str, str]:
        """'tin_hoc_qt|TH' → 'II.10 · Học sinh học Tin học quốc tế (TH)', for a picker, in the screen's order."""
        return {f"{r['indicator_code']}|{r['group']}": f"{r['clause']} · " + _named(r["label"], r["group"])
                for r in self.targets.to_dict("records")}

    @functools.cached_property
    def target_table(self) -> pd.DataFrame:
        """Every target: district value (pooled), target, status, schools short, schools not reported."""
        t = self.targets
        return pd.DataFrame({
            "Mục": t["clause"], "Chỉ tiêu": t["label"], "Cấp học": t["level"],
            "Toàn đơn vị": [fmt_percent(v) for v in t["value"]],
            "Chỉ tiêu đặt ra": [fmt_percent(v) for v in t["target"]],
            "Tình trạng": [progress.STATUS_LABELS[s] for s in t["status"]],
            "Trường chưa đạt": t["schools_short"].astype("int64"),
            "Chưa báo cáo": t["schools_missing"].astype("int64"),
        })

    def school_table(self, key: str | None = None, params: dict | None = None) -> pd.DataFrame:
        """The schools short of one target (`key` from target_names; None: of every target), as a
        table; with `params`, a last column linking to each school's Trường page."""
        s = self._pick(self.short, key)
        out = pd.DataFrame({
            "Mục": s["clause"], "Chỉ tiêu": [_named(lb, g) for lb, g in zip(s["label"], s["group"])],
            "Mã trường": s["school_id"], "Trường": s["name"], "Cấp học": s["level"],
            "Giá trị": s["value"].astype("float64"), "Chỉ tiêu đặt ra": s["target"].astype("float64"),
            "Khoảng cách": s["gap_text"],
            "Tình trạng": [progress.STATUS_LABELS[x] for x in s["status"]],
        })
        if params is not None:
            out["Trang trường"] = [school_link(sid, params) for sid in s["school_id"]]
        return out

    def missing_table(self, key: str | None = None) -> pd.DataFrame:
        """The schools that did not report a target this period (listed apart, not as 0)."""
        m = self._pick(self.missing, key)
        return pd.DataFrame({
            "Mục": m["clause"], "Chỉ tiêu": [_named(lb, g) for lb, g in zip(m["label"], m["group"])],
            "Mã trường": m["school_id"], "Trường": m["name"], "Cấp học": m["level"],
            "Tình trạng": ["chưa báo cáo"] * len(m),
        })

    def download_table(self) -> pd.DataFrame:
        """The whole list for a file: every target's schools short of it, then those not reported."""
        return pd.concat([self.school_table(), self.missing_table()], ignore_index=True)

    @staticmethod
    def _pick(frame: pd.DataFrame, key: str | None) -> pd.DataFrame:
        if not key:
            return frame
        code, group = key.split("|", 1)
        return frame[(frame["indicator_code"] == code) & (frame["group"] == group)]


PERCENT_COLUMNS = ("Giá trị", "Chỉ tiêu đặt ra")
