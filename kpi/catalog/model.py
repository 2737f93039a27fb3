"""The catalog: fields, indicators, targets and the maturity index, loaded from kpi/definitions/.

Loading has two phases. Phase 1 parses each file into typed objects and checks its shape;
phase 2 checks the cross-references between files. Every problem is collected and reported in
one `CatalogError`, one line per problem as ``file: code: reason`` (in Vietnamese, since the
office edits these files). Nothing is half-loaded.
"""

from __future__ import annotations

import csv
import re
import string
import tomllib
from dataclasses import dataclass
from dataclasses import field as dc_field
from functools import lru_cache
from pathlib import Path

DEFINITIONS = Path(__file__).resolve().parents[1] / "definitions"

LEVELS = ("MN", "TH", "THCS", "GDTX")
LEVEL_LABELS = {"MN": "Mầm non", "TH": "Tiểu học", "THCS": "Trung học cơ sở", "GDTX": "GDTX"}
ROUNDS = ("HK1", "CN")
ROUND_LABELS = {"HK1": "Sơ kết học kỳ I", "CN": "Tổng kết cả năm"}
OWNERSHIPS = ("cong_lap", "ngoai_cong_lap")
OWNERSHIP_LABELS = {"cong_lap": "Công lập", "ngoai_cong_lap": "Ngoài công lập"}
FIELD_KINDS = ("count", "bool", "number")
INDICATOR_KINDS = ("ratio", "bool")
TARGET_BASES = {"ke_hoach": "Chỉ tiêu trong kế hoạch", "phong_de_xuat": "Phòng đề xuất (kế hoạch không nêu số)"}
CRITERION_RULES = ("group", "sum", "condition", "entered", "info", "placeholder")
COMPUTE_KINDS = ("", "ratio", "bool")
MANDATORY_EFFECTS = ("cap_level_1", "none")
COMBINE_RULES = ("min", "dh", "qt")
PLACEHOLDER_RULES = ("zero", "rescale")
POINT_SOURCES = ("verified", "self", "computed")
CHECK_SEVERITIES = ("hard", "soft")
CHECK_KINDS = ("at_most", "change", "flip")
# Placeholders each message may use (checks.toml): built-in messages by key, rules by kind.
BUILTIN_PLACEHOLDERS = {"number": (), "number_date": (), "number_percent": (), "whole": (),
                        "bounds": ("min", "max"), "yes_no": (), "ratio": ("limit", "limit_label"), "required": ()}
RULE_PLACEHOLDERS = {"at_most": ("value", "limit", "limit_label"),
                     "change": ("value", "previous", "change", "share", "previous_period"),
                     "flip": ("value", "previous", "previous_period")}

_CODE = re.compile(r"^[a-z][a-z0-9_]*$")
_YEAR = re.compile(r"^(\d{4})-(\d{4})$")


@dataclass(frozen=True)
class Field:
    """A raw number or yes/no a school reports for a period (chỉ tiêu thống kê)."""

    code: str
    label_vi: str
    label_en: str
    unit: str
    kind: str
    levels: tuple[str, ...]
    min: float | None = None
    max: float | None = None
    required: bool = False
    group: str = ""


@dataclass(frozen=True)
class Theme:
    """A group of indicators shown together on the overview."""

    code: str
    label_vi: str
    label_en: str


@dataclass(frozen=True)
class Indicator:
    """A figure computed from fields (chỉ số): a pooled ratio or a yes/no share of schools."""

    code: str
    label_vi: str
    label_en: str
    kind: str
    numerator: str
    denominator: str | None
    levels: tuple[str, ...]
    theme: str
    clause: str
    gap_unit: str


@dataclass(frozen=True)
class Target:
    """A plan target (chỉ tiêu kế hoạch) for one indicator, school year and level."""

    indicator: str
    school_year: str
    level: str
    value: float
    near: float
    clause: str
    basis: str


@dataclass(frozen=True)
class Criterion:
    """One row of the maturity-index tree (tiêu chí)."""

    group_code: str
    code: str
    parent_code: str
    name_vi: str
    name_en: str
    max_points: float
    mandatory: bool
    provisional: bool
    rule: str
    compute: str
    numerator_field: str
    denominator_field: str
    confidence: str
    source: str
    scoring_note: str
    evidence: str
    short_vi: str = ""    # a few words for tight places (chart axes); the full name everywhere else

    @property
    def short_label(self) -> str:
        """'DH3.1 · Dạy học trực tuyến trực tiếp': number and short name."""
        return f"{self.code} · {self.short_vi or self.name_vi}"


@dataclass(frozen=True)
class IndexRules:
    """The maturity index's bands and open rules (settings, see index.toml)."""

    name_vi: str
    decision: str
    groups: dict[str, str]
    group_max: dict[str, float]
    level2_from: float
    level2_to: float
    level_labels: dict[int, str]
    levels_apply: tuple[str, ...]
    mandatory_unmet: str
    combine_groups: str
    placeholder: str
    precedence: tuple[str, ...]
    compute_rounds: tuple[str, ...]
    round_step: float
    self_assessment_deadline: str
    review_deadline: str
    district_target: dict


@dataclass(frozen=True)
class CheckRule:
    """One validation rule of checks.toml: hard (refuses the value) or soft (asks for an explanation)."""

    code: str
    label_vi: str
    severity: str
    kind: str
    fields: tuple[str, ...]   # empty for a flip rule = every yes/no field
    message: str
    limit: str | None = None      # at_most
    share: float | None = None    # change
    min_base: float = 0.0         # change
    before: int | None = None     # flip: 1 = Có, 0 = Không


@dataclass(frozen=True)
class Checks:
    """checks.toml: the built-in checks' messages, the rules, and what an explanation must be."""

    builtin: dict[str, str]
    rules: tuple[CheckRule, ...]
    explain_min: int = 5
    explain_max: int = 500
    explain_missing: str = ""
    explain_too_long: str = ""


@dataclass(frozen=True)
class Catalog:
    """Everything under kpi/definitions/, validated."""

    fields: dict[str, Field]
    themes: dict[str, Theme]
    indicators: dict[str, Indicator]
    targets: tuple[Target, ...]
    criteria: dict[str, Criterion]
    index: IndexRules
    checks: Checks | None = None
    _by_key: dict = dc_field(default_factory=dict, repr=False, compare=False)

    def ratio_pairs(self) -> list[tuple[str, str]]:
        """(numerator, denominator) of every ratio indicator, in the catalog's order."""
        return [(i.numerator, i.denominator) for i in self.indicators.values() if i.kind == "ratio"]

    def fields_for(self, level: str) -> list[Field]:
        """The fields a school of this cấp học reports, in the catalog's order."""
        return [f for f in self.fields.values() if level in f.levels]

    def target_for(self, indicator: str, level: str, school_year: str) -> Target | None:
        """The target in force: the entry for this school year, else the latest earlier one."""
        best = None
        for t in self.targets:
            if t.indicator == indicator and t.level == level and t.school_year <= school_year:
                if best is None or t.school_year > best.school_year:
                    best = t
        return best

    def target_rows(self, school_year: str) -> list[dict]:
        """One row per indicator × level with the target in force for the school year.

        This is the table the SQL joins against: identifiers come only from the catalog.
        """
        rows = []
        for ind in self.indicators.values():
            for level in ind.levels:
                t = self.target_for(ind.code, level, school_year)
                rows.append({
                    "indicator_code": ind.code,
                    "level": level,
                    "kind": ind.kind,
                    "num_field": ind.numerator,
                    "den_field": ind.denominator,
                    "target": None if t is None else t.value,
                    "near": None if t is None else t.near,
                    "target_year": None if t is None else t.school_year,
                })
        return rows


class CatalogError(ValueError):
    """The catalog is invalid; `problems` lists every problem as ``file: code: reason``."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(f"Danh mục không hợp lệ ({len(problems)} lỗi):\n" + "\n".join(problems))


class _Problems(list):
    def add(self, file: str, code: str, reason: str) -> None:
        self.append(f"{file}: {code}: {reason}")


def _read_toml(path: Path, problems: _Problems) -> dict:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        problems.add(path.name, "-", "không tìm thấy tệp")
    except tomllib.TOMLDecodeError as e:
        problems.add(path.name, "-", f"sai cú pháp TOML ({e})")
    return {}


def _need(entry: dict, keys: tuple[str, ...], file: str, code: str, problems: _Problems) -> bool:
    missing = [k for k in keys if k not in entry or entry[k] in ("", None)]
    for k in missing:
        problems.add(file, code, f"thiếu khóa bắt buộc '{k}'")
    return not missing


def _check_levels(levels, file: str, code: str, problems: _Problems) -> tuple[str, ...]:
    if not isinstance(levels, list) or not levels:
        problems.add(file, code, "'levels' phải là danh sách cấp học không rỗng")
        return ()
    bad = [lv for lv in levels if lv not in LEVELS]
    if bad:
        problems.add(file, code, f"cấp học không hợp lệ {bad}; chỉ được dùng {list(LEVELS)}")
    return tuple(lv for lv in levels if lv in LEVELS)


def _parse_fields(data: dict, problems: _Problems) -> dict[str, Field]:
    file = "fields.toml"
    out: dict[str, Field] = {}
    for i, e in enumerate(data.get("field", [])):
        code = str(e.get("code", f"#{i + 1}"))
        if not _need(e, ("code", "label_vi", "unit", "kind", "levels"), file, code, problems):
            continue
        if not _CODE.match(code):
            problems.add(file, code, "mã chỉ gồm chữ thường không dấu, số và '_'")
        if code in out:
            problems.add(file, code, "mã bị trùng")
            continue
        if e["kind"] not in FIELD_KINDS:
            problems.add(file, code, f"kind '{e['kind']}' không hợp lệ; chỉ được dùng {list(FIELD_KINDS)}")
        lo, hi = e.get("min"), e.get("max")
        if lo is not None and hi is not None and lo > hi:
            problems.add(file, code, f"min ({lo}) lớn hơn max ({hi})")
        out[code] = Field(
            code=code, label_vi=e["label_vi"], label_en=e.get("label_en", ""), unit=e["unit"],
            kind=e["kind"], levels=_check_levels(e["levels"], file, code, problems),
            min=lo, max=hi, required=bool(e.get("required", False)), group=str(e.get("group", "")),
        )
    if not out and not problems:
        problems.add(file, "-", "không có trường thống kê nào")
    return out


def _parse_indicators(data: dict, problems: _Problems) -> tuple[dict[str, Theme], dict[str, Indicator]]:
    file = "indicators.toml"
    themes: dict[str, Theme] = {}
    for e in data.get("theme", []):
        code = str(e.get("code", "-"))
        if _need(e, ("code", "label_vi"), file, code, problems):
            if code in themes:
                problems.add(file, code, "mã nhóm bị trùng")
            themes[code] = Theme(code, e["label_vi"], e.get("label_en", ""))
    out: dict[str, Indicator] = {}
    for i, e in enumerate(data.get("indicator", [])):
        code = str(e.get("code", f"#{i + 1}"))
        if not _need(e, ("code", "label_vi", "kind", "levels", "theme", "clause", "gap_unit"),
                     file, code, problems):
            continue
        if code in out:
            problems.add(file, code, "mã bị trùng")
            continue
        kind = e["kind"]
        if kind not in INDICATOR_KINDS:
            problems.add(file, code, f"kind '{kind}' không hợp lệ; chỉ được dùng {list(INDICATOR_KINDS)}")
            continue
        if kind == "ratio":
            if not _need(e, ("numerator", "denominator"), file, code, problems):
                continue
            num, den = e["numerator"], e["denominator"]
        else:
            if not _need(e, ("field",), file, code, problems):
                continue
            if "denominator" in e:
                problems.add(file, code, "chỉ số có/không không có mẫu số")
            num, den = e["field"], None
        out[code] = Indicator(
            code=code, label_vi=e["label_vi"], label_en=e.get("label_en", ""), kind=kind,
            numerator=num, denominator=den, levels=_check_levels(e["levels"], file, code, problems),
            theme=e["theme"], clause=e["clause"], gap_unit=e["gap_unit"],
        )
    return themes, out


def _parse_targets(data: dict, problems: _Problems) -> list[Target]:
    file = "targets.toml"
    out: list[Target] = []
    for i, e in enumerate(data.get("target", [])):
        code = str(e.get("indicator", f"#{i + 1}"))
        if not _need(e, ("indicator", "school_year", "levels", "value", "near", "clause", "basis"),
                     file, code, problems):
            continue
        year = str(e["school_year"])
        m = _YEAR.match(year)
        if not m or int(m.group(2)) != int(m.group(1)) + 1:
            problems.add(file, code, f"năm học '{year}' không đúng dạng 2023-2024")
            continue
        value, near = e["value"], e["near"]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (value, near)):
            problems.add(file, code, "value và near phải là số (tỉ lệ từ 0 đến 1)")
            continue
        if not 0 <= near <= value <= 1:
            problems.add(file, code, f"cần 0 ≤ near ≤ value ≤ 1 (near = {near}, value = {value})")
            continue
        if e["basis"] not in TARGET_BASES:
            problems.add(file, code, f"basis '{e['basis']}' không hợp lệ; chỉ được dùng {list(TARGET_BASES)}")
            continue
        for level in _check_levels(e["levels"], file, code, problems):
            out.append(Target(code, year, level, float(value), float(near), e["clause"], e["basis"]))
    return out


_CRITERIA_COLUMNS = (
    "group_code", "criterion_code", "parent_code", "name_vi", "name_en", "max_points", "mandatory",
    "provisional", "rule", "compute", "numerator_field", "denominator_field", "confidence", "source",
    "scoring_note", "evidence",
)


def _bool_cell(value: str, file: str, code: str, column: str, problems: _Problems) -> bool:
    if value not in ("true", "false"):
        problems.add(file, code, f"cột {column} phải là true hoặc false (gặp '{value}')")
    return value == "true"


def _parse_criteria(path: Path, problems: _Problems) -> dict[str, Criterion]:
    file = path.name
    try:
        with path.open(encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
    except FileNotFoundError:
        problems.add(file, "-", "không tìm thấy tệp")
        return {}
    if rows:
        missing = [c for c in _CRITERIA_COLUMNS if c not in rows[0]]
        if missing:
            problems.add(file, "-", f"thiếu cột {missing}")
            return {}
    out: dict[str, Criterion] = {}
    for i, r in enumerate(rows):
        code = r["criterion_code"] or f"dòng {i + 2}"
        if code in out:
            problems.add(file, code, "mã tiêu chí bị trùng")
            continue
        try:
            max_points = float(r["max_points"])
        except ValueError:
            problems.add(file, code, f"max_points '{r['max_points']}' không phải là số")
            continue
        if max_points < 0:
            problems.add(file, code, "max_points không được âm")
        if r["rule"] not in CRITERION_RULES:
            problems.add(file, code, f"rule '{r['rule']}' không hợp lệ; chỉ được dùng {list(CRITERION_RULES)}")
        if r["compute"] not in COMPUTE_KINDS:
            problems.add(file, code, f"compute '{r['compute']}' không hợp lệ; chỉ được dùng {list(COMPUTE_KINDS)}")
        out[code] = Criterion(
            group_code=r["group_code"], code=code, parent_code=r["parent_code"],
            name_vi=r["name_vi"], name_en=r["name_en"], max_points=max_points,
            mandatory=_bool_cell(r["mandatory"], file, code, "mandatory", problems),
            provisional=_bool_cell(r["provisional"], file, code, "provisional", problems),
            rule=r["rule"], compute=r["compute"], numerator_field=r["numerator_field"],
            denominator_field=r["denominator_field"], confidence=r["confidence"], source=r["source"],
            scoring_note=r["scoring_note"], evidence=r["evidence"], short_vi=(r.get("short_vi") or "").strip(),
        )
    return out


def _parse_index(data: dict, problems: _Problems) -> IndexRules | None:
    file = "index.toml"
    if not data:
        return None
    groups = {g["code"]: g["label_vi"] for g in data.get("group", []) if "code" in g and "label_vi" in g}
    group_max = {g["code"]: float(g.get("max_points", 100)) for g in data.get("group", []) if "code" in g}
    bands = data.get("bands", {})
    rules = data.get("rules", {})
    ok = _need(bands, ("level2_from", "level2_to"), file, "bands", problems)
    ok &= _need(rules, ("mandatory_unmet", "combine_groups", "placeholder", "precedence"), file, "rules", problems)
    if not ok:
        return None
    if len(groups) > 4:
        problems.add(file, "group", f"tối đa 4 nhóm tiêu chí, đang có {len(groups)}")
    if not bands["level2_from"] < bands["level2_to"]:
        problems.add(file, "bands", "level2_from phải nhỏ hơn level2_to")
    for key, allowed in (("mandatory_unmet", MANDATORY_EFFECTS), ("combine_groups", COMBINE_RULES),
                         ("placeholder", PLACEHOLDER_RULES)):
        if rules[key] not in allowed:
            problems.add(file, f"rules.{key}", f"giá trị '{rules[key]}' không hợp lệ; chỉ được dùng {list(allowed)}")
    bad = [p for p in rules["precedence"] if p not in POINT_SOURCES]
    if bad:
        problems.add(file, "rules.precedence", f"nguồn điểm {bad} không hợp lệ; chỉ được dùng {list(POINT_SOURCES)}")
    cal = data.get("calendar", {})
    return IndexRules(
        name_vi=data.get("name_vi", ""), decision=data.get("decision", ""),
        groups=groups, group_max=group_max,
        level2_from=float(bands["level2_from"]), level2_to=float(bands["level2_to"]),
        level_labels={int(lv["level"]): lv["label_vi"] for lv in data.get("level", [])},
        levels_apply=tuple(data.get("levels_apply", ("TH", "THCS", "GDTX"))),
        mandatory_unmet=rules["mandatory_unmet"], combine_groups=rules["combine_groups"],
        placeholder=rules["placeholder"], precedence=tuple(rules["precedence"]),
        compute_rounds=tuple(rules.get("compute_rounds", ("CN", "HK1"))),
        round_step=float(rules.get("round_step", 0.5)),
        self_assessment_deadline=cal.get("self_assessment_deadline", "31/05"),
        review_deadline=cal.get("review_deadline", "20/06"),
        district_target=dict(data.get("district_target", {})),
    )


def _placeholders(text: str) -> set[str] | None:
    """The {names} a message uses; None when its braces do not parse."""
    try:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError:
        return None


def _check_message(text, allowed: tuple[str, ...], file: str, code: str, problems: _Problems) -> None:
    if not isinstance(text, str) or not text.strip():
        problems.add(file, code, "message phải là một câu tiếng Việt không rỗng")
        return
    used = _placeholders(text)
    if used is None:
        problems.add(file, code, "dấu ngoặc {} trong message không đúng cú pháp")
        return
    bad = sorted(used - set(allowed))
    if bad:
        problems.add(file, code, f"chỗ điền {bad} không dùng được; chỉ được dùng {list(allowed)}")


def _parse_checks(data: dict, problems: _Problems) -> Checks | None:
    file = "checks.toml"
    if not data:
        if not any(p.startswith(f"{file}:") for p in problems):
            problems.add(file, "-", "tệp trống: cần [builtin], [explanation] và các [[rule]]")
        return None
    builtin = data.get("builtin", {})
    for key, allowed in BUILTIN_PLACEHOLDERS.items():
        if key not in builtin:
            problems.add(file, f"builtin.{key}", "thiếu lời nhắn của kiểm tra có sẵn")
        else:
            _check_message(builtin[key], allowed, file, f"builtin.{key}", problems)
    for key in sorted(set(builtin) - set(BUILTIN_PLACEHOLDERS)):
        problems.add(file, f"builtin.{key}", f"không có kiểm tra có sẵn này; chỉ có {list(BUILTIN_PLACEHOLDERS)}")
    ex = data.get("explanation", {})
    lo, hi = ex.get("min_chars", 5), ex.get("max_chars", 500)
    if not (isinstance(lo, int) and isinstance(hi, int) and 0 < lo <= hi):
        problems.add(file, "explanation", f"cần 0 < min_chars ≤ max_chars (min_chars = {lo}, max_chars = {hi})")
    _check_message(ex.get("missing", ""), ("min_chars",), file, "explanation.missing", problems)
    _check_message(ex.get("too_long", ""), ("max_chars",), file, "explanation.too_long", problems)
    rules: list[CheckRule] = []
    seen: set[str] = set()
    for i, e in enumerate(data.get("rule", [])):
        code = str(e.get("code", f"#{i + 1}"))
        if not _need(e, ("code", "label_vi", "severity", "kind", "message"), file, code, problems):
            continue
        if not _CODE.match(code):
            problems.add(file, code, "mã chỉ gồm chữ thường không dấu, số và '_'")
        if code in seen:
            problems.add(file, code, "mã bị trùng")
            continue
        seen.add(code)
        if e["severity"] not in CHECK_SEVERITIES:
            problems.add(file, code, f"severity '{e['severity']}' không hợp lệ; chỉ được dùng {list(CHECK_SEVERITIES)}")
        kind = e["kind"]
        if kind not in CHECK_KINDS:
            problems.add(file, code, f"kind '{kind}' không hợp lệ; chỉ được dùng {list(CHECK_KINDS)}")
            continue
        fields = e.get("fields", [])
        if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
            problems.add(file, code, "'fields' phải là danh sách mã chỉ tiêu")
            fields = []
        if kind != "flip" and not fields:
            problems.add(file, code, "thiếu khóa bắt buộc 'fields'")
        _check_message(e["message"], RULE_PLACEHOLDERS[kind], file, code, problems)
        limit = share = before = None
        min_base = 0.0
        if kind == "at_most":
            if _need(e, ("limit",), file, code, problems):
                limit = str(e["limit"])
        elif kind == "change":
            share, min_base = e.get("share"), e.get("min_base", 0)
            if not isinstance(share, (int, float)) or isinstance(share, bool) or not 0 < share:
                problems.add(file, code, f"share phải là số lớn hơn 0 (tỉ lệ, 0.3 = 30%), gặp {share!r}")
                share = None
            if not isinstance(min_base, (int, float)) or min_base < 0:
                problems.add(file, code, f"min_base phải là số không âm, gặp {min_base!r}")
                min_base = 0
        elif kind == "flip":
            before = e.get("before")
            if before not in (0, 1) or isinstance(before, bool):
                problems.add(file, code, f"before phải là 1 (Có) hoặc 0 (Không), gặp {before!r}")
                before = None
        rules.append(CheckRule(code, e["label_vi"], e["severity"], kind, tuple(fields), e["message"], limit,
                               None if share is None else float(share), float(min_base), before))
    return Checks(dict(builtin), tuple(rules), int(lo) if isinstance(lo, int) else 5,
                  int(hi) if isinstance(hi, int) else 500, str(ex.get("missing", "")), str(ex.get("too_long", "")))


def _cross_check_checks(fields: dict[str, Field], checks: Checks, problems: _Problems) -> None:
    file = "checks.toml"
    numbers = ("count", "number")
    for r in checks.rules:
        for fcode in r.fields + ((r.limit,) if r.limit else ()):
            f = fields.get(fcode)
            if f is None:
                problems.add(file, r.code, f"chỉ tiêu '{fcode}' không có trong fields.toml")
                continue
            wanted = ("bool",) if r.kind == "flip" else numbers
            if f.kind not in wanted:
                problems.add(file, r.code, f"chỉ tiêu '{fcode}' có kind '{f.kind}', cần {list(wanted)}")
        if r.limit in fields:
            for fcode in r.fields:
                if fcode in fields and not set(fields[fcode].levels) & set(fields[r.limit].levels):
                    problems.add(file, r.code, f"'{fcode}' và '{r.limit}' không cùng cấp học nào")


def _cross_check(fields, themes, indicators, targets, criteria, index, problems: _Problems) -> None:
    file = "indicators.toml"
    for ind in indicators.values():
        if ind.theme not in themes:
            problems.add(file, ind.code, f"nhóm '{ind.theme}' không có trong danh sách [[theme]]")
        for role, fcode in (("tử số", ind.numerator), ("mẫu số", ind.denominator)):
            if fcode is None:
                continue
            f = fields.get(fcode)
            if f is None:
                problems.add(file, ind.code, f"trường {role} '{fcode}' không có trong fields.toml")
                continue
            expected = ("bool",) if ind.kind == "bool" else ("count", "number")
            if f.kind not in expected:
                problems.add(file, ind.code, f"trường {role} '{fcode}' có kind '{f.kind}', cần {list(expected)}")
            missing = [lv for lv in ind.levels if lv not in f.levels]
            if missing:
                problems.add(file, ind.code, f"trường {role} '{fcode}' không được báo cáo ở cấp {missing}")
    file = "targets.toml"
    seen = set()
    for t in targets:
        ind = indicators.get(t.indicator)
        if ind is None:
            problems.add(file, t.indicator, "chỉ số không có trong indicators.toml")
            continue
        if t.level not in ind.levels:
            problems.add(file, t.indicator, f"cấp {t.level} không thuộc các cấp của chỉ số {list(ind.levels)}")
        key = (t.indicator, t.school_year, t.level)
        if key in seen:
            problems.add(file, t.indicator, f"chỉ tiêu trùng cho năm học {t.school_year}, cấp {t.level}")
        seen.add(key)
    targeted = {t.indicator for t in targets}
    for code in indicators:
        if code not in targeted:
            problems.add(file, code, "chỉ số chưa có chỉ tiêu nào")
    file = "criteria.csv"
    if index is not None:
        for code, c in criteria.items():
            if c.rule == "group":
                if code not in index.groups:
                    problems.add(file, code, f"nhóm không có trong index.toml {list(index.groups)}")
            elif c.parent_code not in criteria:
                problems.add(file, code, f"tiêu chí cha '{c.parent_code}' không tồn tại")
            if c.mandatory and (c.rule != "condition" or c.max_points != 0):
                problems.add(file, code, "tiêu chí bắt buộc phải có rule 'condition' và 0 điểm")
            if c.compute:
                for col, fcode in (("numerator_field", c.numerator_field),
                                   ("denominator_field", c.denominator_field)):
                    if (fcode or (col == "numerator_field" or c.compute == "ratio")) and fcode not in fields:
                        problems.add(file, code, f"{col} '{fcode}' không có trong fields.toml")
        for g in index.groups:
            if g not in criteria:
                problems.add(file, g, "nhóm trong index.toml không có dòng gốc trong criteria.csv")
        tree_ok = all(c.rule == "group" or c.parent_code in criteria for c in criteria.values())
        for code, c in criteria.items() if tree_ok else ():
            if c.rule in ("group", "sum"):
                children = [k for k in criteria.values() if k.parent_code == code]
                total = sum(k.max_points for k in children)
                if abs(total - c.max_points) > 1e-9:
                    problems.add(file, code, f"tổng điểm tối đa của các tiêu chí con là {total:g}, "
                                             f"khác {c.max_points:g}")


def load_catalog(directory: Path | str = DEFINITIONS) -> Catalog:
    """Load and validate the catalog; raise `CatalogError` listing every problem."""
    d = Path(directory)
    problems = _Problems()
    fields = _parse_fields(_read_toml(d / "fields.toml", problems), problems)
    themes, indicators = _parse_indicators(_read_toml(d / "indicators.toml", problems), problems)
    targets = _parse_targets(_read_toml(d / "targets.toml", problems), problems)
    criteria = _parse_criteria(d / "criteria.csv", problems)
    index = _parse_index(_read_toml(d / "index.toml", problems), problems)
    checks = _parse_checks(_read_toml(d / "checks.toml", problems), problems)
    if problems:
        raise CatalogError(list(problems))
    _cross_check(fields, themes, indicators, targets, criteria, index, problems)
    if checks is not None:
        _cross_check_checks(fields, checks, problems)
    if problems:
        raise CatalogError(list(problems))
    return Catalog(fields, themes, indicators, tuple(targets), criteria, index, checks)


@lru_cache(maxsize=4)
def default_catalog() -> Catalog:
    """The shipped catalog, loaded once per process."""
    return load_catalog(DEFINITIONS)
