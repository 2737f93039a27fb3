"""The house in wings (issue 26): kpi/ is laid out by job, every import runs down between wings,
no module imports itself back through others, and imports stand at the top of each file.

The wings from the bottom up. A module may import modules of its own wing and of every wing below
it; kpi/cli.py and kpi/__main__.py stand on all of them; pages/ and dashboard.py stand on every wing
but the tools, and nothing of kpi/ imports pages/.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

WINGS = ["common", "catalog", "domain", "store", "imports", "workflows", "admin", "display", "views",
         "exports", "writes", "serving", "tools"]
ROOF = len(WINGS)          # kpi/cli.py, kpi/__main__.py
PAGES = len(WINGS) + 1     # pages/*.py, dashboard.py
# The benches' Streamlit side (AppTest page runs, simulated browsers speaking Streamlit's protocol):
# Streamlit stays in pages/, so they live there, stand on the tools they serve, and nothing imports them.
BENCH_DRIVERS = {"pages._bench", "pages._load"}
DEFERRED = "# deferred:"   # an import inside a function says why, above its block: a measured reason


def project_sources(root: Path = ROOT) -> dict[str, str]:
    """Dotted module name → source of every module of the product (kpi/, pages/, dashboard.py)."""
    out = {}
    for p in [*sorted((root / "kpi").rglob("*.py")), *sorted((root / "pages").glob("*.py")), root / "dashboard.py"]:
        rel = p.relative_to(root).with_suffix("")
        name = ".".join(rel.parts).removesuffix(".__init__")
        out[name] = p.read_text(encoding="utf-8")
    return out


def floor(module: str) -> int | None:
    """The height of a module's wing (None for the kpi package itself and a wing's __init__)."""
    parts = module.split(".")
    if parts[0] in ("pages", "dashboard"):
        return PAGES
    if len(parts) == 1:
        return None
    if len(parts) == 2:
        return ROOF if parts[1] in ("cli", "__main__") else None
    return WINGS.index(parts[1]) if parts[1] in WINGS else None


def imports_of(module: str, text: str, known: set[str]):
    """(imported module, line, inside a function, the line's text) for each import of a project module."""
    tree = ast.parse(text)
    lines = text.splitlines()
    inner = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            inner.update(id(n) for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom)))
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else node.module
                       for a in node.names]
        for t in targets:
            while t not in known and "." in t:
                t = t.rsplit(".", 1)[0]
            if t in known and t != module:
                yield t, node.lineno, id(node) in inner, _reason(lines, node.lineno)


def _reason(lines: list[str], lineno: int) -> str:
    """The import's own line and the comment above its block of imports (where a reason stands)."""
    said, i = [lines[lineno - 1]], lineno - 2
    while i >= 0 and lines[i].strip().startswith(("from ", "import ")):
        i -= 1
    if i >= 0:
        said.append(lines[i])
    return "\n".join(said)


def layer_problems(sources: dict[str, str]) -> list[str]:
    """Every import that runs up a wing, reaches pages/ from kpi/ or kpi.tools from the product,
    sits inside a function without a reason, or closes a circle."""
    known = set(sources)
    problems, graph = [], {m: set() for m in sources}
    for module, text in sources.items():
        here = floor(module)
        for target, line, inner, said in imports_of(module, text, known):
            graph[module].add(target)
            there = floor(target)
            where = f"{module} (dòng {line}) → {target}"
            if target.split(".")[0] == "pages" and module.startswith("kpi"):
                problems.append(f"kpi nhập pages: {where}")
            elif target in BENCH_DRIVERS:
                problems.append(f"nhập trình chạy đo: {where}")
            elif here == PAGES and there == WINGS.index("tools") and module not in BENCH_DRIVERS:
                problems.append(f"trang nhập công cụ: {where}")
            elif here is not None and there is not None and there > here:
                problems.append(f"nhập ngược lên: {where}")
            if inner and DEFERRED not in said:
                problems.append(f"nhập trong hàm không nêu lý do: {where}")
    problems += [f"vòng: {' → '.join(c)}" for c in circles(graph)]
    return problems


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_every_module_lives_in_a_wing():
    loose = [m for m in project_sources() if m.startswith("kpi.") and floor(m) is None
             and m.count(".") == 1 and m.split(".")[1] not in WINGS]
    assert loose == []


def test_every_import_runs_down_and_no_circle():
    assert layer_problems(project_sources()) == []


def test_the_layering_check_catches_each_kind_of_violation():
    sources = project_sources()
    planted = {
        **sources,
        # a domain module reaching up into the store
        "kpi.domain.progress": sources["kpi.domain.progress"] + "\nfrom kpi.store import queries\n",
        # the product reaching into pages, and a page into the tools
        "kpi.views.cache": sources["kpi.views.cache"] + "\nimport pages._frame\n",
        "pages.tong_quan": sources["pages.tong_quan"] + "\nfrom kpi.tools import bench\n",
        # a page leaning on a bench driver (only the benches start them, in a process of their own)
        "pages.chi_tieu": sources["pages.chi_tieu"] + "\nfrom pages import _bench\n",
        # an import hidden in a function, with no reason
        "kpi.exports.export": sources["kpi.exports.export"] + "\n\ndef _late():\n    from kpi.views import cache\n",
        # a circle inside one wing
        "kpi.common.text": sources["kpi.common.text"] + "\nfrom kpi.common import formatting\n",
        "kpi.common.formatting": sources["kpi.common.formatting"] + "\nfrom kpi.common import text\n",
    }
    found = layer_problems(planted)
    assert any(p.startswith("nhập ngược lên: kpi.domain.progress") and p.endswith("kpi.store.queries") for p in found)
    assert any(p.startswith("kpi nhập pages: kpi.views.cache") for p in found)
    assert any(p.startswith("trang nhập công cụ: pages.tong_quan") for p in found)
    assert any(p.startswith("nhập trình chạy đo: pages.chi_tieu") for p in found)
    assert any(p.startswith("nhập trong hàm không nêu lý do: kpi.exports.export") for p in found)
    assert "vòng: kpi.common.formatting → kpi.common.text" in found
    # a reason on the line above lets a measured deferred import stand
    allowed = {**sources, "kpi.exports.export": sources["kpi.exports.export"]
               + "\n\ndef _late():\n    # deferred: measured reason\n    from kpi.views import cache\n"}
    assert not any("kpi.exports.export" in p and "trong hàm" in p for p in layer_problems(allowed))


def layout_named(readme: str) -> set[str]:
    """The files the README's Layout block names under kpi/ and pages/ (paths from the root)."""
    block = readme.split("## Layout", 1)[1].split("```", 2)[1]
    named, top, wing = set(), None, None
    for line in block.splitlines():
        name = line.split()[0] if line.strip() else ""
        depth = (len(line) - len(line.lstrip())) // 2
        if depth == 0:
            top, wing = name.rstrip("/"), None
        elif depth == 1 and name.endswith("/"):
            wing = name.rstrip("/")
        elif name.endswith(".py"):
            named.add("/".join(x for x in (top, wing if depth == 2 else None, name) if x))
    return named


def layout_files(root: Path = ROOT) -> set[str]:
    """Every module of kpi/ and the Streamlit glue of pages/ (the pages are listed under "Các trang")."""
    return {str(p.relative_to(root)) for p in [*(root / "kpi").rglob("*.py"), *(root / "pages").glob("_*.py")]
            if p.name not in ("__init__.py", "__main__.py")}


def test_the_readme_layout_names_every_module():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert layout_named(readme) == layout_files()
    # planted: a module the README forgets, and one it names that no longer exists
    forgot = readme.replace("    chart_text.py ", "    chart_words.py ")
    assert layout_files() - layout_named(forgot) == {"kpi/display/chart_text.py"}
    assert layout_named(forgot) - layout_files() == {"kpi/display/chart_words.py"}
