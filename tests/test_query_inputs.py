"""Every input of a query visible (issue 26 item 3): no function of the query layer reads a value
kept at module level that something can change (a thread-local, a global recorder, a dict), and
none rebinds one with `global`. What a query reads comes in through its arguments: the connection
(a `Recording` one for the bench), the scope, and the source (kpi.store.source.Source)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from kpi.catalog.model import default_catalog
from kpi.common.access import Scope
from kpi.store import db, queries
from kpi.store.source import Source

ROOT = Path(__file__).resolve().parents[1]
QUERY_LAYER = ("kpi/store/queries.py", "kpi/store/source.py")
# calls whose result cannot change after the module is loaded
CAT = default_catalog()
FROZEN_CALLS = {"re.compile", "pa.schema", "frozenset", "tuple", "MappingProxyType", "types.MappingProxyType"}


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _frozen(value: ast.AST) -> bool:
    """Whether a module-level value can never change (None counts as a slot someone fills later)."""
    if isinstance(value, ast.Constant):
        return value.value is not None
    if isinstance(value, ast.Tuple):
        return all(_frozen(e) for e in value.elts)
    if isinstance(value, ast.BinOp):
        return _frozen(value.left) and _frozen(value.right)
    if isinstance(value, ast.UnaryOp):
        return _frozen(value.operand)
    if isinstance(value, ast.Call):
        return _dotted(value.func) in FROZEN_CALLS
    return False


def hidden_inputs(text: str, where: str = "") -> list[str]:
    """Each read of a changeable module-level name, and each `global`, inside a function of `text`."""
    tree = ast.parse(text)
    changeable = set()
    for node in tree.body:
        targets, value = [], None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        for t in targets:
            if isinstance(t, ast.Name) and not _frozen(value):
                changeable.add(t.id)
    out = []
    for fn in ast.walk(tree):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        args = fn.args
        local = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg] if a}
        local |= {n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        for n in ast.walk(fn):
            if isinstance(n, ast.Global):
                out.append(f"{where}{fn.name}: global {', '.join(n.names)}")
            elif isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id in changeable - local:
                out.append(f"{where}{fn.name} (dòng {n.lineno}) đọc {n.id}")
    return sorted(set(out))


def test_no_query_function_reads_a_hidden_input():
    for rel in QUERY_LAYER:
        assert hidden_inputs((ROOT / rel).read_text(encoding="utf-8"), f"{rel}: ") == []


def test_the_check_catches_each_kind_of_hidden_input():
    text = (ROOT / "kpi/store/queries.py").read_text(encoding="utf-8")
    planted = text + '''

_SLICE = threading.local()
RECORDER: list | None = None
_SEEN = {}


def _sliced():
    return getattr(_SLICE, "table", None)


def _record(name):
    if RECORDER is not None:
        RECORDER.append(name)


def _remember(name):
    return _SEEN.setdefault(name, len(_SEEN))


def _switch(on):
    global MIXED_A
    MIXED_A = on
'''
    found = hidden_inputs(planted)
    assert any(p.startswith("_sliced ") and p.endswith("đọc _SLICE") for p in found)
    assert any(p.startswith("_record ") and p.endswith("đọc RECORDER") for p in found)
    assert any(p.startswith("_remember ") and p.endswith("đọc _SEEN") for p in found)
    assert "_switch: global MIXED_A" in found
    assert len({p.split()[0] for p in found}) == 4  # nothing else: the constants of the file are frozen
    # a parameter of the same name is an input in plain sight
    assert hidden_inputs("_SEEN = {}\n\ndef f(_SEEN):\n    return _SEEN\n") == []


def test_the_source_is_what_the_call_says(sample_db):
    """The same query on the same connection reads what each call's source says, and nothing of
    one call lingers into the next; a source must read the scope's snapshot."""
    con = db.connect(str(sample_db))
    try:
        scope, period = Scope.everything(), ("2023-2024", "CN")
        nothing = queries.unit_observations(con, "PGD_Q3").slice(0, 0)  # a slice without any observation
        before = queries.district_summary(con, CAT, scope, *period)
        sliced = queries.district_summary(con, CAT, scope, *period, source=Source(slice=nothing))
        after = queries.district_summary(con, CAT, scope, *period)
        assert before["schools_reporting"].sum() > 0 and sliced["schools_reporting"].sum() == 0
        assert after.equals(before)
        with pytest.raises(ValueError):
            queries.district_summary(con, CAT, scope.with_snapshot("x"), *period, source=Source(slice=nothing))
    finally:
        con.close()
    assert (Source().kind, Source("x").kind, Source(slice=nothing).kind) == ("live", "snapshot", "slice")
    assert Source(pending=(nothing, nothing), slice=nothing).kind == "pending+slice"
    with pytest.raises(ValueError):
        Source("x", slice=nothing)
