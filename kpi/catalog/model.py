"""The catalog: fields, indicators, targets and the maturity index, loaded from kpi/definitions/.

Loading has two phases. Phase 1 parses each file into typed objects and checks its shape
(kpi.catalog.parsing); phase 2, here, checks the cross-references between files. Every problem is
collected and reported in one `CatalogError`, one line per problem as ``file: code: reason`` (in
Vietnamese, since the office edits these files). Nothing is half-loaded. The records themselves
are kpi.catalog.records; this module names them for the rest of the project.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

# kpi.admin.plans checks a plan's targets with _YEAR, _parse_targets and _cross_check, as the catalog's
from kpi.catalog.parsing import _YEAR, _parse_targets, _Problems, parse_files  # noqa: F401
from kpi.catalog.records import (  # noqa: F401 - the catalog's names, imported across the project from here
    BUILTIN_PLACEHOLDERS,
    CHECK_KINDS,
    CHECK_SEVERITIES,
    COMBINE_RULES,
    COMPUTE_KINDS,
    CRITERION_RULES,
    DEFINITIONS,
    FIELD_KINDS,
    INDICATOR_KINDS,
    LEVEL_LABELS,
    LEVELS,
    MANDATORY_EFFECTS,
    OWNERSHIP_LABELS,
    OWNERSHIPS,
    PLACEHOLDER_RULES,
    POINT_SOURCES,
    ROUND_LABELS,
    ROUNDS,
    RULE_PLACEHOLDERS,
    TARGET_BASES,
    Catalog,
    CatalogError,
    CheckRule,
    Checks,
    Criterion,
    Field,
    IndexRules,
    Indicator,
    Target,
    Theme,
)


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
    fields, themes, indicators, targets, criteria, index, checks = parse_files(d, problems)
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
