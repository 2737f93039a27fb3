"""No cell of a file the app writes runs as a formula (kpi.common.cells).

Every writer of XLSX and CSV gets a payload in every text it takes (school names, the unit's name,
imported file names, the snapshot's name, account display names, titles), its file is read back
the way a spreadsheet program reads it (tests/cells_check.py), and nothing in it runs. The same
writers with the neutralising switched off must make the checker flag the payloads, so each
check is shown to fail on a real leak; the checker itself is shown to flag a file made unsafe on
purpose.
"""

from __future__ import annotations

import ast
import io
from pathlib import Path

import pandas as pd
import pytest
import xlsxwriter

from kpi.catalog.model import default_catalog
from kpi.cli import main
from kpi.common import cells
from kpi.common.access import Scope
from kpi.display import tables
from kpi.imports.problems import Problem, error_report
from kpi.store import db, queries
from kpi.workflows import snapshots
from tests.cells_check import csv_bad_cells, csv_texts, formula_cells, risky_text, xlsx_texts

CAT = default_catalog()
ROOT = Path(__file__).resolve().parents[1]
HYPERLINK = '=HYPERLINK("http://x.exe","a")'
MID_CR = "An Hòa\r=1+1"  # an unquoted CR in a CSV field starts a new row: "=1+1" would lead it
# What a spreadsheet would run, plus what only xlsxwriter's write() turns into a formula or a link.
PAYLOADS = (HYPERLINK, MID_CR, "+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1", "  =1+1", "{=1+1}", "http://x.exe")


def written(payload: str) -> str:
    """How a payload must come back from a file: with an apostrophe when a spreadsheet would run it."""
    return "'" + payload if risky_text(payload) else payload


def _cycle(n: int, shift: int = 0) -> list[str]:
    return [PAYLOADS[(i + shift) % len(PAYLOADS)] for i in range(n)]


@pytest.fixture(scope="module")
def planted(tmp_path_factory, sample_db) -> tuple[Path, str, list[str]]:
    """A copy of the sample with a payload in every text a writer takes; a snapshot of 2023-2024 CN
    with a payload for a name; and the payloads given to the accounts (display names)."""
    path = tmp_path_factory.mktemp("cells") / "planted.duckdb"
    path.write_bytes(sample_db.read_bytes())
    with db.writing(path) as con:
        ids = [sid for (sid,) in con.execute("SELECT school_id FROM schools ORDER BY school_id").fetchall()]
        for sid, name, file, ward in zip(ids, _cycle(len(ids)), _cycle(len(ids), 1), _cycle(len(ids), 2)):
            con.execute("UPDATE schools SET name = ?, ward = ? WHERE school_id = ?", [name, ward, sid])
            con.execute("UPDATE submissions SET source = ? WHERE school_id = ?", [file, sid])
        con.execute("UPDATE units SET name = ?", [HYPERLINK])
        db.set_meta(con, "unit_name", HYPERLINK)
        users = [u for (u,) in con.execute("SELECT user_name FROM users ORDER BY user_name").fetchall()]
        shown = _cycle(len(users))
        for user, name in zip(users, shown):
            con.execute("UPDATE users SET display_name = ? WHERE user_name = ?", [name, user])
    sid = snapshots.freeze(path, "2023-2024", "CN", "@SUM(A1)", "-2+3")
    return path, sid, shown


# ---- the writers: each returns its files [(kind, bytes)] and the payloads it was given ------

def _download_frames(path: Path) -> list[tuple[pd.DataFrame, dict]]:
    """The tables the pages offer as CSV / XLSX downloads, from the planted database."""
    c = db.connect(path)
    try:
        values = queries.school_values(c, CAT, Scope(), "tin_hoc_quoc_te", ("2023-2024", "CN"),
                                       ("2023-2024", "HK1"))
        status = queries.submission_status(c, Scope(), "2023-2024", "CN")
        review = queries.maturity_review(c, CAT, Scope(), "2023-2024", False)[0]
    finally:
        c.close()
    return [(tables.school_table(values), {"percent_columns": tables.SCHOOL_TABLE_PERCENT,
                                           "int_columns": tables.SCHOOL_TABLE_INT}),
            (tables.submission_table(status), {}), (tables.review_table(review), {})]


def downloads_csv(planted, tmp_path, capsys, monkeypatch):
    return [("csv", tables.to_csv_bytes(frame)) for frame, _ in _download_frames(planted[0])], PAYLOADS


def downloads_xlsx(planted, tmp_path, capsys, monkeypatch):
    return [("xlsx", tables.to_xlsx_bytes(frame, title=title, **kw))
            for (frame, kw), title in zip(_download_frames(planted[0]), PAYLOADS)], PAYLOADS


def pack_xlsx(planted, tmp_path, capsys, monkeypatch):
    path, sid, _ = planted
    out = tmp_path / "bo_bao_cao.xlsx"
    assert main(["export", "--db", str(path), "--year", "2023-2024", "--round", "CN", "--format", "xlsx",
                 "--snapshot", sid, "--out", str(out)]) == 0
    return [("xlsx", out.read_bytes())], PAYLOADS


def template_xlsx(planted, tmp_path, capsys, monkeypatch):
    out = tmp_path / "bieu_mau.xlsx"
    assert main(["template", str(out), "--db", str(planted[0]), "--year", "2023-2024", "--round", "CN"]) == 0
    return [("xlsx", out.read_bytes())], PAYLOADS


def error_report_xlsx(planted, tmp_path, capsys, monkeypatch):
    problems = [Problem(p, p, i + 2, p, p, p) for i, p in enumerate(PAYLOADS)]
    return [("xlsx", error_report(problems))], PAYLOADS


def _cli_csv(argv, capsys) -> bytes:
    capsys.readouterr()
    assert main(argv) == 0
    return capsys.readouterr().out.encode("utf-8")


def cli_summary_csv(planted, tmp_path, capsys, monkeypatch):
    real = queries.district_summary

    def planted_summary(*a, **k):  # every text column of the summary carries a payload
        df = real(*a, **k)
        return df.assign(indicator_code=_cycle(len(df)), level=_cycle(len(df), 1),
                         school_year=_cycle(len(df), 2), round=_cycle(len(df), 3))

    monkeypatch.setattr(queries, "district_summary", planted_summary)
    return [("csv", _cli_csv(["summary", "--db", str(planted[0]), "--year", "2023-2024", "--round", "CN",
                              "--format", "csv"], capsys))], PAYLOADS


def cli_scores_csv(planted, tmp_path, capsys, monkeypatch):
    real = queries.maturity_schools

    def planted_scores(*a, **k):
        df = real(*a, **k)
        return df.assign(school_id=_cycle(len(df)), school_year=_cycle(len(df), 1))

    monkeypatch.setattr(queries, "maturity_schools", planted_scores)
    return [("csv", _cli_csv(["scores", "--db", str(planted[0]), "--year", "2023-2024", "--format", "csv"],
                             capsys))], PAYLOADS


def cli_users_csv(planted, tmp_path, capsys, monkeypatch):
    argv = ["users", "list", "--db", str(planted[0]), "--format", "csv"]
    return [("csv", _cli_csv(argv, capsys))], planted[2]


WRITERS = {f.__name__: f for f in (downloads_csv, downloads_xlsx, pack_xlsx, template_xlsx, error_report_xlsx,
                                    cli_summary_csv, cli_scores_csv, cli_users_csv)}


def _bad(kind: str, data: bytes):
    return formula_cells(data) if kind == "xlsx" else csv_bad_cells(data)


def _texts(kind: str, data: bytes) -> list[str]:
    return xlsx_texts(data) if kind == "xlsx" else csv_texts(data)


@pytest.mark.parametrize("writer", WRITERS)
def test_no_cell_runs(writer, planted, tmp_path, capsys, monkeypatch):
    files, given = WRITERS[writer](planted, tmp_path, capsys, monkeypatch)
    for kind, data in files:
        assert _bad(kind, data) == []
    texts = {t for kind, data in files for t in _texts(kind, data)}
    assert {written(p) for p in given} <= texts  # every payload reached the files, as inert text


@pytest.mark.parametrize("writer", WRITERS)
def test_checker_flags_the_payloads_when_neutralising_is_off(writer, planted, tmp_path, capsys, monkeypatch):
    # "off" is the writers as they were before kpi.common.cells: no apostrophe, xlsxwriter's write() and
    # defaults, pandas' CSV line ends
    monkeypatch.setattr(cells, "neutralise", lambda value: value)
    monkeypatch.setattr(cells, "XLSX_OPTIONS", {})  # xlsxwriter's defaults: "=..." becomes a formula
    monkeypatch.setattr(cells, "write_cell", lambda ws, r, c, value, fmt=None: ws.write(r, c, value, fmt))
    monkeypatch.setattr(cells, "CSV_LINE_END", "\n")  # pandas' default: a CR in a field is not quoted
    files, given = WRITERS[writer](planted, tmp_path, capsys, monkeypatch)
    flagged = {(b.value, b.why) for kind, data in files for b in _bad(kind, data)}
    values = {v.lstrip("\r") for v, _ in flagged}  # in CSV a leading CR now ends the row before it
    assert {p.lstrip("\r") for p in given if risky_text(p)} <= values
    kinds = {kind for kind, _ in files}
    if "xlsx" in kinds:
        assert (HYPERLINK, "công thức") in flagged and ("{=1+1}", "công thức") in flagged
        assert ("http://x.exe", "đường liên kết") in flagged
    if "csv" in kinds:
        assert "=1+1" in values  # the row that MID_CR's CR started


def test_checker_flags_a_file_made_unsafe_on_purpose():
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    ws = wb.add_worksheet("Trang")
    ws.write(0, 0, "=1+1")  # plain write(): a formula
    ws.write(1, 0, "http://x.exe")  # plain write(): a link
    ws.write_string(2, 0, "+1")
    ws.write_string(3, 0, "\t=1")
    ws.write_string(4, 0, "\r@SUM(A1)")  # stored as "_x000D_@SUM(A1)"
    ws.write_string(5, 0, "'=1+1")  # neutralised
    ws.write_string(6, 0, "Trường Tiểu học Lê Lợi - cơ sở 2")
    ws.write_number(7, 0, -5)
    wb.close()
    found = [(b.cell, b.why) for b in formula_cells(buf.getvalue())]
    assert found == [("A1", "công thức"), ("A2", "đường liên kết"), ("A3", "chữ mở đầu như công thức"),
                     ("A4", "chữ mở đầu như công thức"), ("A5", "chữ mở đầu như công thức")]
    raw = pd.DataFrame({"Trường": ["=1+1", "-2+3", "'=1", "An Hòa", "\t@SUM(A1)"],
                        "Thay đổi": [-0.05, 1.0, 2e-7, -3.0, 0]})
    found = [(b.cell, b.value) for b in csv_bad_cells(raw.to_csv(index=False).encode("utf-8-sig"))]
    assert found == [("R2C1", "=1+1"), ("R3C1", "-2+3"), ("R6C1", "\t@SUM(A1)")]  # -0.05, -3.0: numbers
    split = pd.DataFrame({"Trường": ["An Hòa\r=1+1"], "Số": [1]}).to_csv(index=False)  # pandas: CR unquoted
    assert [(b.cell, b.value) for b in csv_bad_cells(split)] == [("R3C1", "=1+1")]


@pytest.mark.parametrize("value, written", [
    ('=HYPERLINK("http://x.exe","a")', '\'=HYPERLINK("http://x.exe","a")'),
    ("+1", "'+1"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"), ("\t=1", "'\t=1"), ("\r=1", "'\r=1"),
    ("\t", "'\t"), ("  =1+1", "'  =1+1"), ("\n-1", "'\n-1"), ("-", "'-"),
    ("Trường Tiểu học An Hòa", "Trường Tiểu học An Hòa"), ("An Hòa - cơ sở 2", "An Hòa - cơ sở 2"),
    ("'=1", "'=1"), ("{=1+1}", "{=1+1}"), ("http://x.exe", "http://x.exe"), ("", ""), ("  ", "  "),
    ("—", "—"), (-5, -5), (1.5, 1.5), (None, None), (True, True),
])
def test_neutralise(value, written):
    assert cells.neutralise(value) == written


def test_neutral_frame_finds_text_whatever_its_dtype():
    df = pd.DataFrame({
        "str": pd.Series(["=1", "An Hòa", None], dtype="string"),
        "object": pd.Series([1, "+1", None], dtype=object),
        "category": pd.Categorical(["@a", "b", "@a"]),
        "number": [-1.0, 2.0, -3.0],
        "=header": ["x", "y", "z"],
    })
    assert df["str"].dtype != object  # pandas 3: `dtype == object` would miss this column
    out = cells.neutral_frame(df)
    assert list(out.columns) == ["str", "object", "category", "number", "'=header"]
    assert list(out["str"][:2]) == ["'=1", "An Hòa"] and pd.isna(out["str"][2])
    assert list(out["object"][:2]) == [1, "'+1"] and pd.isna(out["object"][2])
    assert list(out["category"]) == ["'@a", "b", "'@a"]
    assert list(out["number"]) == [-1.0, 2.0, -3.0]
    assert list(df["str"][:2]) == ["=1", "An Hòa"] and "=header" in df.columns  # the input is untouched


# ---- every writer goes through kpi.common.cells -------------------------------------------------

WRITER_CALLS = {"to_csv", "to_excel", "ExcelWriter", "Workbook", "write_row", "write_column", "write_string",
                "write_formula", "write_array_formula", "write_url", "write_rich_string"}


def cell_writers(source: str) -> list[str]:
    """Calls (and imports) in a module's source that write spreadsheet cells without kpi.common.cells."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
            if name in WRITER_CALLS:
                found.append((node.lineno, name))
        elif isinstance(node, ast.Import) and any(a.name.split(".")[0] == "xlsxwriter" for a in node.names):
            found.append((node.lineno, "import xlsxwriter"))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "xlsxwriter":
            found.append((node.lineno, "from xlsxwriter import"))
    return [f"{what} (dòng {line})" for line, what in sorted(found)]


def test_only_kpi_cells_writes_spreadsheet_cells():
    sources = [*(ROOT / "kpi").rglob("*.py"), *(ROOT / "pages").glob("*.py"), ROOT / "dashboard.py"]
    offenders = {str(p.relative_to(ROOT)): cell_writers(p.read_text(encoding="utf-8"))
                 for p in sources if p != ROOT / "kpi" / "common" / "cells.py"}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_cell_writer_guard_catches_a_planted_writer():
    planted = ("import xlsxwriter\n"
               "def dump(df, buf, ws):\n"
               "    df.to_csv(buf)\n"
               "    with pd.ExcelWriter(buf) as xw:\n"
               "        df.to_excel(xw)\n"
               "    ws.write_row(0, 0, ['=1'])\n")
    assert cell_writers(planted) == ["import xlsxwriter (dòng 1)", "to_csv (dòng 3)", "ExcelWriter (dòng 4)",
                                     "to_excel (dòng 5)", "write_row (dòng 6)"]
