"""Checking a school's figures: hard checks refuse a value, soft checks ask the school to explain it.

One engine for both ways figures arrive: every cell of an imported file (kpi.imports.importer) and every
value a school types in the entry form or uploads there (kpi.workflows.entry). The rules are data
(kpi/definitions/checks.toml, loaded with the catalog): the built-in checks every field gets from
fields.toml and indicators.toml (a number, a whole number, có/không, bounds, numerator ≤
denominator, required fields) with their messages, and the rules that add to them: hard ones
(refuse, like the built-ins) and soft ones (a value that moved more than a set share from the
previous period, a count above the school's total, a yes/no that flipped), each with its
Vietnamese message. Messages here are what follows the field's name; the form puts the field's
label in front, an import error report the column.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from dataclasses import dataclass
from dataclasses import field as dc_field

from kpi.catalog.model import Catalog, CheckRule, Field
from kpi.common.formatting import fmt_int, fmt_number, fmt_percent

YES_WORDS = {"có", "co", "x", "1", "yes", "y", "đã", "da", "true", "c", "đúng", "dung"}
NO_WORDS = {"không", "khong", "0", "no", "n", "chưa", "chua", "false", "k", "sai"}


def _fold(text) -> str:
    return " ".join(unicodedata.normalize("NFC", str(text)).casefold().split())


def blank(v) -> bool:
    """Nothing entered: None, or only spaces."""
    return v is None or (isinstance(v, str) and not v.strip())


def number(v) -> float | None:
    """A number from a cell or an input: 12, 12.5, '12', '12,5', '1.234' (Vietnamese thousands); else None."""
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v) if math.isfinite(v) else None
    if not isinstance(v, str):
        return None
    s = v.strip().replace(" ", "").replace("\u00a0", "").replace("\u202f", "")
    if re.fullmatch(r"-?\d{1,3}(\.\d{3})+", s):
        s = s.replace(".", "")
    elif re.fullmatch(r"-?\d+,\d+", s):
        s = s.replace(",", ".")
    if not re.fullmatch(r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", s):
        return None
    x = float(s)
    return x if math.isfinite(x) else None


def yes_no(v) -> float | None:
    """1.0 for có, 0.0 for không (in the many ways people write them); else None."""
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if isinstance(v, (int, float)) and v in (0, 1):
        return float(v)
    if not isinstance(v, str):
        return None
    s = _fold(v)
    return 1.0 if s in YES_WORDS else 0.0 if s in NO_WORDS else None


def _builtin(catalog: Catalog, key: str, **kw) -> str:
    return catalog.checks.builtin[key].format(**kw)


def not_a_number(v, catalog: Catalog) -> str:
    """Why a cell is not a number, in the school's words."""
    if isinstance(v, (dt.date, dt.time, dt.timedelta)):
        return _builtin(catalog, "number_date")
    if isinstance(v, str) and "%" in v:
        return _builtin(catalog, "number_percent")
    return _builtin(catalog, "number")


def parse(f: Field, raw, catalog: Catalog) -> tuple[float | None, str | None]:
    """One field's value from what was entered: (value, None); (None, None) when blank; (None, why)
    when refused by a built-in check (not có/không, not a number, not whole, out of bounds)."""
    if blank(raw):
        return None, None
    if f.kind == "bool":
        x = yes_no(raw)
        return (x, None) if x is not None else (None, _builtin(catalog, "yes_no"))
    x = number(raw)
    if x is None:
        return None, not_a_number(raw, catalog)
    if f.kind == "count" and x != int(x):
        return None, _builtin(catalog, "whole")
    if (f.min is not None and x < f.min) or (f.max is not None and x > f.max):
        return None, _builtin(catalog, "bounds", min=f"{f.min:g}", max=f"{f.max:g}")
    return x, None


def pair_problems(values: dict[str, float], catalog: Catalog) -> list[tuple[str, str]]:
    """(field, message) for every value above the value it may not exceed: a ratio's numerator
    above its denominator (indicators.toml), then the hard at_most rules (checks.toml). A refused
    value is set aside before the next pair is checked (it names no other value)."""
    have = dict(values)
    out = []
    pairs = [(num, den, "ratio", None) for num, den in catalog.ratio_pairs()]
    pairs += [(f, r.limit, "rule", r) for r in catalog.checks.rules
              if r.severity == "hard" and r.kind == "at_most" for f in r.fields]
    for num, den, kind, rule in pairs:
        if num in have and den in have and have[num] > have[den]:
            label, limit = catalog.fields[den].label_vi, have[den]
            if kind == "ratio":
                out.append((num, _builtin(catalog, "ratio", limit_label=label, limit=f"{limit:g}")))
            else:
                out.append((num, rule.message.format(value=_shown(catalog.fields[num], have[num]),
                                                     limit=_shown(catalog.fields[den], limit), limit_label=label)))
            have.pop(num)
    return out


def _shown(f: Field, x) -> str:
    if x is None:
        return "trống"
    if f.kind == "bool":
        return "Có" if x >= 1 else "Không"
    return fmt_int(x) if f.kind == "count" else fmt_number(x, 2)


@dataclass(frozen=True)
class Flag:
    """A soft check a value set off: the rule and its message (what follows the field's name)."""

    field: str
    rule: str
    message: str


def _rule_fields(rule: CheckRule, catalog: Catalog, level: str) -> list[str]:
    codes = rule.fields or tuple(c for c, f in catalog.fields.items() if f.kind == "bool")
    return [c for c in codes if level in catalog.fields[c].levels]


def soft_flags(values: dict[str, float], previous: dict[str, float], level: str, catalog: Catalog,
               previous_label: str = "kỳ trước") -> list[Flag]:
    """Every soft rule a school's values set off, in the rules' order: `values` this period,
    `previous` the school's approved values of the previous period (empty when none)."""
    out = []
    for r in catalog.checks.rules:
        if r.severity != "soft":
            continue
        for code in _rule_fields(r, catalog, level):
            f, x = catalog.fields[code], values.get(code)
            if x is None:
                continue
            if r.kind == "at_most":
                limit = values.get(r.limit)
                if limit is not None and x > limit:
                    out.append(Flag(code, r.code, r.message.format(
                        value=_shown(f, x), limit=_shown(catalog.fields[r.limit], limit),
                        limit_label=catalog.fields[r.limit].label_vi)))
            elif r.kind == "change":
                before = previous.get(code)
                if before is None or before < r.min_base or before <= 0:
                    continue
                moved = (x - before) / before
                if abs(moved) > r.share + 1e-12:
                    change = f"{'tăng' if moved > 0 else 'giảm'} {fmt_percent(abs(moved))}"
                    out.append(Flag(code, r.code, r.message.format(
                        value=_shown(f, x), previous=_shown(f, before), change=change,
                        share=fmt_percent(r.share), previous_period=previous_label)))
            elif r.kind == "flip":
                before = previous.get(code)
                if before is not None and int(before >= 1) == r.before and int(x >= 1) != r.before:
                    out.append(Flag(code, r.code, r.message.format(
                        value=_shown(f, x), previous=_shown(f, before), previous_period=previous_label)))
    return out


@dataclass
class FormCheck:
    """A school's form checked: the accepted values, the hard problems and the soft flags by field,
    and what still keeps it from being submitted."""

    values: dict[str, float] = dc_field(default_factory=dict)
    problems: dict[str, list[str]] = dc_field(default_factory=dict)      # hard: refuse the submission
    flags: dict[str, list[Flag]] = dc_field(default_factory=dict)        # soft: need an explanation
    explanation_problems: dict[str, str] = dc_field(default_factory=dict)  # flagged, not (well) explained

    @property
    def can_submit(self) -> bool:
        return not self.problems and not self.explanation_problems

    def messages(self, catalog: Catalog) -> list[str]:
        """Everything that keeps the form from being submitted, each naming its field."""
        out = []
        for code in catalog.fields:
            for m in self.problems.get(code, []):
                out.append(f"{catalog.fields[code].label_vi}: {m}")
            if code in self.explanation_problems:
                out.append(f"{catalog.fields[code].label_vi}: {self.explanation_problems[code]}")
        return out

    def flag_codes(self, code: str) -> list[str]:
        return [f.rule for f in self.flags.get(code, [])]


def check_form(raw: dict[str, object], explanations: dict[str, str], level: str, catalog: Catalog,
               previous: dict[str, float], previous_label: str = "kỳ trước", final: bool = False) -> FormCheck:
    """Check what a school entered for a period (`raw`: field → text or number as typed or read
    from its file), with the same built-in and hard checks as an import, the soft checks against
    its previous period, and the explanations of the flagged values. `final`: also the required
    fields and the explanations (a submission); a draft is checked but may be saved as it is."""
    out = FormCheck()
    fields = catalog.fields_for(level)
    for f in fields:
        x, why = parse(f, raw.get(f.code), catalog)
        if why:
            out.problems.setdefault(f.code, []).append(why)
        elif x is not None:
            out.values[f.code] = x
    for code, why in pair_problems(out.values, catalog):
        out.problems.setdefault(code, []).append(why)
    if final:
        for f in fields:
            if f.required and f.code not in out.values and f.code not in out.problems:
                out.problems.setdefault(f.code, []).append(_builtin(catalog, "required"))
    good = {k: v for k, v in out.values.items() if k not in out.problems}
    for flag in soft_flags(good, previous, level, catalog, previous_label):
        out.flags.setdefault(flag.field, []).append(flag)
    ch = catalog.checks
    for code in out.flags:
        text = (explanations.get(code) or "").strip()
        if len(text) > ch.explain_max:
            out.explanation_problems[code] = ch.explain_too_long.format(max_chars=ch.explain_max)
        elif final and len(text) < ch.explain_min:
            out.explanation_problems[code] = ch.explain_missing.format(min_chars=ch.explain_min)
    return out


def shown_value(f: Field, x) -> str:
    """A stored value as the form shows it: '1.234', '12,5', 'Có' / 'Không'; '' when none."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    if f.kind == "number":  # no thousands separator: what is shown must read back as the same number
        return f"{x:g}".replace(".", ",")
    return _shown(f, x)
