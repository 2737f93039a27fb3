"""The maturity index's rules as query inputs, and whether the stored index still matches them.

kpi/sql/maturity_base.sql scores the index from data: the criteria (criteria.csv) and the rules
(index.toml) reach it as a registered table and bound parameters, built here. The stored index
(kpi.store.derived) is trusted while the rules' fingerprint and the data version it was computed for
match the file's meta keys. Both kpi.store.queries (to choose stored or live scoring) and kpi.store.derived
(to rescore) read this module; it reads neither.
"""

from __future__ import annotations

import hashlib
import json

import pyarrow as pa

from kpi.catalog.model import Catalog
from kpi.common.access import Scope


def filters(scope: Scope, level, ownership, ward) -> dict:
    """The school filters every district query takes: the caller's unit, cấp học, loại hình, phường."""
    return {"unit_id": scope.unit_id, "level": level, "ownership": ownership, "ward": ward}


_CRIT_SCHEMA = pa.schema([
    ("criterion_code", pa.string()), ("group_code", pa.string()), ("position", pa.int32()),
    ("max_points", pa.float64()), ("provisional", pa.bool_()), ("rule", pa.string()), ("compute", pa.string()),
    ("num_field", pa.string()), ("den_field", pa.string()),
])
_GROUP_SCHEMA = pa.schema([("group_code", pa.string()), ("position", pa.int32()), ("group_max", pa.float64()),
                           ("placeholder_max", pa.float64())])


def maturity_args(catalog: Catalog, scope: Scope, school_years, level, ownership, ward) -> tuple[dict, dict]:
    """Parameters and tables of kpi/sql/maturity_base.sql: the criteria and rules as data."""
    rules = catalog.index
    crit = list(catalog.criteria.values())
    defs = pa.Table.from_pylist([
        {"criterion_code": c.code, "group_code": c.group_code, "position": i, "max_points": float(c.max_points),
         "provisional": c.provisional, "rule": c.rule, "compute": c.compute or None,
         "num_field": c.numerator_field or None, "den_field": c.denominator_field or None}
        for i, c in enumerate(crit)], schema=_CRIT_SCHEMA)
    groups = pa.Table.from_pylist([
        {"group_code": g, "position": i, "group_max": float(rules.group_max.get(g, 100.0)),
         "placeholder_max": float(sum(c.max_points for c in crit if c.group_code == g and c.rule == "placeholder"))}
        for i, g in enumerate(rules.groups)], schema=_GROUP_SCHEMA)
    precedence = list(dict.fromkeys(rules.precedence)) + [None] * 3
    fields = sorted({f for c in crit if c.compute for f in (c.numerator_field, c.denominator_field) if f})
    params = {**filters(scope, level, ownership, ward), "school_years": list(school_years),
              "school_id": scope.school_id, "levels": list(rules.levels_apply), "fields": fields or [""],
              "rounds": list(rules.compute_rounds), "p1": precedence[0], "p2": precedence[1], "p3": precedence[2],
              "step": float(rules.round_step), "l2_from": float(rules.level2_from), "l2_to": float(rules.level2_to),
              "cap": rules.mandatory_unmet == "cap_level_1", "rescale": rules.placeholder == "rescale",
              "combine": rules.combine_groups}
    return params, {"crit_defs": defs, "group_defs": groups}



def fingerprint(catalog: Catalog) -> str:
    """A hash of everything the scoring reads from the catalog (criteria rows, bands, rules)."""
    params, tables = maturity_args(catalog, Scope.everything(), [], None, None, None)
    rules = {k: v for k, v in params.items() if k not in ("school_years", "unit_id", "level", "ownership",
                                                          "ward", "school_id", "schools")}
    body = json.dumps({"rules": rules, **{k: t.to_pylist() for k, t in tables.items()}}, sort_keys=True)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()[:16]


def stored_valid(meta: dict[str, str], catalog: Catalog) -> bool:
    """Whether the stored index reflects this data and these rules."""
    return (meta.get("index_version") is not None and meta.get("index_version") == meta.get("data_version")
            and meta.get("index_rules") == fingerprint(catalog))
