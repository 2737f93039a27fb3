"""Phase 1 of loading the catalog: each file of kpi/definitions/ parsed into typed records
(kpi.catalog.records) and its shape checked. Every problem is collected as ``file: code: reason``
(in Vietnamese, since the office edits these files); kpi.catalog.model runs phase 2.
"""

from __future__ import annotations

import csv
import re
import string
import tomllib
from pathlib import Path

from kpi.catalog.records import (
    BUILTIN_PLACEHOLDERS,
    CHECK_KINDS,
    CHECK_SEVERITIES,
    COMBINE_RULES,
    COMPUTE_KINDS,
    CRITERION_RULES,
    FIELD_KINDS,
    INDICATOR_KINDS,
    LEVELS,
    MANDATORY_EFFECTS,
    PLACEHOLDER_RULES,
    POINT_SOURCES,
    RULE_PLACEHOLDERS,
    TARGET_BASES,
    CheckRule,
    Checks,
    Criterion,
    Field,
    IndexRules,
    Indicator,
    Target,
    Theme,
)

_CODE = re.compile(r"^[a-z][a-z0-9_]*$")
_YEAR = re.compile(r"^(\d{4})-(\d{4})$")


class _Problems(list):
    """Every problem found, one line per problem as ``file: code: reason``."""

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


def parse_files(directory: Path, problems: _Problems) -> tuple:
    """Phase 1: (fields, themes, indicators, targets, criteria, index, checks) parsed from the files of
    `directory`, each file's shape checked; every problem added to `problems`."""
    fields = _parse_fields(_read_toml(directory / "fields.toml", problems), problems)
    themes, indicators = _parse_indicators(_read_toml(directory / "indicators.toml", problems), problems)
    targets = _parse_targets(_read_toml(directory / "targets.toml", problems), problems)
    criteria = _parse_criteria(directory / "criteria.csv", problems)
    index = _parse_index(_read_toml(directory / "index.toml", problems), problems)
    checks = _parse_checks(_read_toml(directory / "checks.toml", problems), problems)
    return fields, themes, indicators, targets, criteria, index, checks
