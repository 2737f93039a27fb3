"""The import's limits, measured: oversized and hostile files are built in a temporary folder and
each is checked in a fresh Python process (as the app's import would check an upload), timing the
check and reading the process's peak memory (VmHWM in /proc/self/status).

`bench_limits()` returns, per file: whether it was refused (and whether it should be), seconds
(and the target: 2 s for an oversized file), peak memory (MB, the whole process: interpreter,
libraries and the file's bytes; target 200 MB) and the memory the process had before reading the
file, and the message a user would see. `python -m kpi.tools.import_bench [DB]` prints it as JSON.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from kpi.catalog.model import default_catalog
from kpi.imports.import_read import LIMITS, MB
from kpi.imports.templates import field_header
from kpi.store import db
from kpi.tools.sample import build_sample

TARGET_SECONDS = 2.0
TARGET_MB = 200

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Default Extension="png" ContentType="image/png"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '</Types>')
_RELS = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
         '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
         '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
         'officeDocument" Target="xl/workbook.xml"/></Relationships>')
_WB = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
       '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
       'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
       '<sheets><sheet name="Số liệu" sheetId="1" r:id="rId1"/></sheets></workbook>')
_WB_RELS = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'worksheet" Target="worksheets/sheet1.xml"/></Relationships>')
SHEET_HEAD = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
              '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
SHEET_TAIL = "</sheetData></worksheet>"


def raw_workbook(path, sheet_rows, extra_parts=(), compresslevel: int = 6, sheet_head: str = SHEET_HEAD) -> None:
    """A minimal one-sheet XLSX written part by part to `path` (a path or a binary file): `sheet_rows`
    are strings of <row> XML, streamed; `extra_parts` are (name, bytes, stored). How a hostile
    workbook is built without holding it in memory."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=compresslevel) as zf:
        zf.writestr("[Content_Types].xml", _CONTENT_TYPES)
        zf.writestr("_rels/.rels", _RELS)
        zf.writestr("xl/workbook.xml", _WB)
        zf.writestr("xl/_rels/workbook.xml.rels", _WB_RELS)
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as out:
            out.write(sheet_head.encode())
            buf = []
            for row in sheet_rows:
                buf.append(row)
                if len(buf) >= 4096:
                    out.write("".join(buf).encode())
                    buf = []
            out.write(("".join(buf) + SHEET_TAIL).encode())
        for name, data, stored in extra_parts:
            zf.writestr(name, data, compress_type=zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED)


def _inline(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


_HEADERS = ("Mã trường", "Năm học", "Kỳ", "Tổng số học sinh (trẻ) (học sinh)", "Tổng số giáo viên (giáo viên)",
            "Tổng số cán bộ quản lý và giáo viên (người)")


def _header_row() -> str:
    return '<row r="1">' + "".join(_inline(f"{'ABCDEF'[j]}1", h) for j, h in enumerate(_HEADERS)) + "</row>"


def _bomb_rows(unpacked: int):
    yield _header_row()
    yield '<row r="2"><c r="A2" t="inlineStr"><is><t>'
    chunk = "A" * MB
    for _ in range(unpacked // MB):
        yield chunk
    yield "</t></is></c></row>"


def _many_rows(n: int):
    yield _header_row()
    for i in range(2, n + 1):
        yield f'<row r="{i}"><c><v>{i % 900}</v></c></row>'


def _widest_rows(n: int):
    """A data sheet at the row limit with every field of the catalog: what the limits still let in."""
    from openpyxl.utils import get_column_letter


    heads = ["Mã trường", "Năm học", "Kỳ"] + [field_header(f) for f in default_catalog().fields.values()]
    letters = [get_column_letter(j + 1) for j in range(len(heads))]
    yield '<row r="1">' + "".join(_inline(f"{c}1", h) for c, h in zip(letters, heads)) + "</row>"
    for i in range(2, n + 1):
        yield (f'<row r="{i}">' + _inline(f"A{i}", f"XX{i:05d}") + _inline(f"B{i}", "2023-2024")
               + _inline(f"C{i}", "CN") + "".join(f'<c r="{c}{i}"><v>1</v></c>' for c in letters[3:]) + "</row>")


def _csv(path: Path, size: int) -> None:
    line = "XX{:07d},2023-2024,CN,900\n"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("Mã trường,Năm học,Kỳ,Tổng số học sinh (trẻ) (học sinh)\n")
        for i in range(size // len(line.format(0))):
            fh.write(line.format(i))


def build_files(folder: Path, school_id: str, only: set[str] | None = None) -> list[dict]:
    """The benchmark's files in `folder` (those named in `only`, else all): name, what it is, whether
    it must be refused, and the time it must be decided in (TARGET_SECONDS for the oversized ones)."""
    folder.mkdir(parents=True, exist_ok=True)
    ok_row = ('<row r="2">' + _inline("A2", school_id) + _inline("B2", "2023-2024") + _inline("C2", "CN")
              + '<c r="D2"><v>900</v></c><c r="E2"><v>40</v></c><c r="F2"><v>44</v></c></row>')
    plan = [
        ("qua_lon.xlsx", "workbook larger than the file limit (an uncompressible image)", True, TARGET_SECONDS,
         lambda f: raw_workbook(f, [_header_row(), ok_row],
                                [("xl/media/image1.png", os.urandom(LIMITS.file_bytes + 5 * MB), True)])),
        ("bom_nen.xlsx", "zip bomb: a sheet that unpacks to 1 GB", True, TARGET_SECONDS,
         lambda f: raw_workbook(f, _bomb_rows(1024 * MB), compresslevel=9)),
        ("1048576_dong.xlsx", "a sheet with 1,048,576 rows holding a number each", True, TARGET_SECONDS,
         lambda f: raw_workbook(f, _many_rows(1_048_576))),
        ("dau_cach_dong_cuoi.xlsx", "a valid file with one space typed in row 1,048,576 (must import)", False,
         TARGET_SECONDS, lambda f: raw_workbook(
             f, [_header_row(), ok_row, '<row r="1048576">' + _inline("C1048576", " ") + "</row>"])),
        ("50mb_truong_la.csv", "a 50 MB CSV of unknown schools", True, TARGET_SECONDS, lambda f: _csv(f, 50 * MB)),
        ("qua_nhieu_dong.csv", "a CSV under the size limit with more rows than the row limit", True, TARGET_SECONDS,
         lambda f: _csv(f, LIMITS.file_bytes - MB)),
        ("gioi_han_20000_dong.xlsx", "the largest workbook the limits let in (every row and cell read and "
         "checked; unknown schools)", True, LIMITS.seconds, lambda f: raw_workbook(f, _widest_rows(LIMITS.rows))),
    ]
    files = []
    for name, what, refused, seconds, build in plan:
        if only and name not in only:
            continue
        build(folder / name)
        files.append({"name": name, "what": what, "expected_refused": refused, "target_seconds": seconds,
                      "size_mb": round((folder / name).stat().st_size / MB, 1)})
    return files


_CHECK = """
import json, sys, time
sys.path.insert(0, {root!r})
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
from kpi.imports import parse
from kpi.store import db
import os
from kpi.imports import import_read
base = hwm()
t, cpu = time.perf_counter(), time.process_time()
too_big = import_read.size_refusal(os.path.getsize({file!r}))  # as the CLI and the upload widget: before reading
if too_big:
    problems = [too_big]
else:
    data = open({file!r}, "rb").read()
    con = db.connect({db!r})
    problems = parse.validate({name!r}, data, con).problems
    con.close()
seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
print(json.dumps({{"refused": bool(problems), "seconds": seconds, "cpu_seconds": cpu, "peak_mb": hwm(), "base_mb": base,
                  "message": str(problems[0]) if problems else ""}}))
"""


def measure(path: Path, db_path: Path, code: str | None = None) -> dict:
    """Check one file in a fresh process: refused, seconds (wall and CPU), peak and starting memory (MB), message.
    `code` replaces the check (a script printing the same JSON), e.g. to measure another reader."""
    code = code or _CHECK.format(root=str(db.ROOT), file=str(path), db=str(db_path), name=path.name)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        return {"refused": None, "seconds": None, "cpu_seconds": None, "peak_mb": None, "base_mb": None,
                "used_mb": None,
                "message": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "lỗi"}
    r = json.loads(out.stdout.strip().splitlines()[-1])
    r["used_mb"] = r["peak_mb"] - r["base_mb"]  # what checking the file took beyond the loaded modules
    return r


def bench_limits(db_path: str | os.PathLike | None = None) -> dict:
    """Build the hostile files, check each in a fresh process, and say whether the limits hold
    (every file that must be refused is, within TARGET_SECONDS and TARGET_MB; the valid one imports)."""
    with tempfile.TemporaryDirectory(prefix="kpi-limits-") as tmp:
        folder = Path(tmp)
        if db_path is None:
            db_path = folder / "mau.duckdb"
            build_sample(db_path, schools=53, years=3, seed=7)
        con = db.connect(db_path)
        try:
            school = con.execute("SELECT min(school_id) FROM schools WHERE level = 'TH'").fetchall()[0][0]
        finally:
            con.close()
        files = build_files(folder / "tep", school)
        for f in files:
            f.update(measure(folder / "tep" / f["name"], Path(db_path)))
            f["ok"] = (f["refused"] == f["expected_refused"]
                       and f["seconds"] is not None and f["seconds"] <= f["target_seconds"]
                       and f["peak_mb"] is not None and f["peak_mb"] <= TARGET_MB)
    return {"limits": dataclasses.asdict(LIMITS), "target_seconds": TARGET_SECONDS, "target_mb": TARGET_MB,
            "files": files, "ok": all(f["ok"] for f in files)}


if __name__ == "__main__":
    print(json.dumps(bench_limits(sys.argv[1] if len(sys.argv) > 1 else None), ensure_ascii=False, indent=1))
