"""The catalog's records: fields, themes, indicators, targets, maturity criteria and rules, checks
(frozen dataclasses), the words each may hold, and the error a catalog with problems raises.
kpi.catalog.parsing builds them from kpi/definitions/; kpi.catalog.model loads them (and names them
for the rest of the project).
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
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
