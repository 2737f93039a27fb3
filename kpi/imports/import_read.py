"""Reading schools' files (XLSX, CSV) within limits, before anything is parsed in full.

An upload must never take the server down for the people sharing it, so every limit is checked as
early as it can be, and always on what a file really holds, never on what it declares:

1. the file's size, before anything else;
2. for a workbook, its zip directory: how many parts, each part's unpacked size and compression
   ratio, the total unpacked size (a 3 MB file that unpacks to 1 GB is refused here);
3. each sheet, in one fast pass over its XML (zlib and a regular expression, no objects built):
   rows and cells that hold a value, and the merged ranges; a sheet's declared dimension is ignored;
4. then the rows are parsed by kpi.imports.sheet_xml (expat, the values openpyxl's streaming parser
   would read), holding only rows with values, up to the last row that holds one (one space typed in
   row 1.048.576 costs nothing: absent rows are never visited, and reading stops once the last row
   with a value has been seen);
5. a clock for the whole read: the reading thread's CPU time (what the file costs the server).

CSV is decoded as Excel writes it in Vietnam (UTF-8 with or without BOM, Windows-1258, UTF-16
"Unicode Text"); the encoding and the separator (comma, semicolon, tab) are chosen by which of
them reveals most of the template's known headers (`header_score`), not by a guess on a sample.

Every refusal is a `Refused` with a Vietnamese sentence that names the limit; unreadable files are
explained (password, old .xls, not a workbook, damaged) without Python's error names.
"""

from __future__ import annotations

import codecs
import csv
import html
import io
import itertools
import re
import struct
import time
import zipfile
from dataclasses import dataclass, field
from typing import Callable

from kpi.common.formatting import fmt_int, fmt_number

MB = 1024 * 1024


def _sheet_xml():
    """kpi.imports.sheet_xml, loaded with openpyxl when a workbook is read: this module's limits are read by
    every worker (kpi.imports.evidence), the workbook reader only where someone sends a file."""
    # deferred: openpyxl, 7 MB in every worker that never reads a workbook
    from kpi.imports import sheet_xml

    return sheet_xml


@dataclass(frozen=True)
class Limits:
    """What one file may hold. Defaults: a district's or a city's file fits with room to spare."""

    file_bytes: int = 20 * MB        # the file as uploaded
    parts: int = 1000                # parts in a workbook (zip entries)
    part_bytes: int = 50 * MB        # one part unpacked
    total_bytes: int = 100 * MB      # all parts unpacked
    ratio: int = 100                 # unpacked / packed size, for parts above 1 MB unpacked
    rows: int = 20_000               # rows holding a value, per sheet
    columns: int = 200               # columns holding a value
    cells: int = 1_000_000           # cells holding a value, per sheet
    seconds: float = 30.0            # reading the whole file (the reading thread's CPU time: _clock)


LIMITS = Limits()

# The read's clock: the CPU time of the thread reading, not the wall clock. The limit keeps one file
# from holding a core; on a deadline day a busy server shares its cores, and a file the limits let
# in took 30 s on the wall clock for 16 s of its own (tests/test_import_safety.py): the wall clock
# would refuse a legal file because other people were working.
_clock = time.thread_time


class Refused(Exception):
    """The file cannot be read, or is beyond a limit; `message` says why in Vietnamese."""

    def __init__(self, message: str, sheet: str = "—"):
        self.message = message
        self.sheet = sheet
        super().__init__(message)


@dataclass
class Sheet:
    """A sheet as read: the rows holding a value, with their Excel row numbers."""

    name: str
    hidden: bool = False
    rows: list[tuple[int, list]] = field(default_factory=list)  # (Excel row number, values)
    formulas: set = field(default_factory=set)  # (Excel row number, 0-based column) holding a formula
    merged: list[str] = field(default_factory=list)  # merged ranges, e.g. "E5:F5"
    note: str = ""  # how a CSV was decoded, for messages


def size_text(n: int) -> str:
    """Bytes as a Vietnamese size: '20 MB', '3,4 MB', '512 KB'."""
    if n >= MB:
        return f"{fmt_number(n / MB, 1)} MB"
    return f"{fmt_number(n / 1024, 0)} KB"


# ---- what kind of file ------------------------------------------------------------------------

_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED = "EncryptedPackage".encode("utf-16-le")
_PASSWORD = ("tệp bị khóa bằng mật khẩu: mở tệp bằng Excel, bỏ mật khẩu (Tệp › Thông tin › Bảo vệ sổ làm việc › "
             "Mã hóa bằng mật khẩu, xóa mật khẩu), lưu lại rồi gửi lại")
_DAMAGED = ("tệp bị hỏng ({why}): mở tệp bằng Excel; nếu mở được, lưu lại dạng Sổ làm việc Excel (.xlsx) rồi gửi "
            "lại, nếu không thì xin trường gửi lại tệp")
_NOT_XLSX = ("tệp không phải XLSX ({what}): mở tệp bằng Excel và lưu lại dạng Sổ làm việc Excel (.xlsx), hoặc "
             "dạng CSV UTF-8")


def size_refusal(n: int, limits: Limits = LIMITS) -> str | None:
    """Why a file of `n` bytes is refused for its size (checked before a byte of it is read), or None."""
    if n > limits.file_bytes:
        return (f"tệp quá lớn: {size_text(n)}, tối đa {size_text(limits.file_bytes)} mỗi tệp; "
                "tách tệp hoặc bỏ các trang, hình ảnh không cần thiết")
    return None


def read_book(name: str, data: bytes, header_score: Callable[[list], int],
              limits: Limits = LIMITS) -> list[Sheet]:
    """The sheets of a workbook, or the one table of a CSV ('CSV'); raise Refused."""
    deadline = _clock() + limits.seconds
    if not data:
        raise Refused("tệp rỗng (0 byte)")
    too_big = size_refusal(len(data), limits)
    if too_big:
        raise Refused(too_big)
    head = data[:8]
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return read_xlsx(data, limits, deadline)
    if head == _OLE:
        if _ENCRYPTED in data:
            raise Refused(_PASSWORD)
        raise Refused(_NOT_XLSX.format(what="tệp Excel 97-2003 (.xls)"))
    if head[:5] == b"%PDF-":
        raise Refused(_NOT_XLSX.format(what="tệp PDF"))
    if name.lower().endswith((".xlsx", ".xlsm", ".xls")):
        raise Refused(_NOT_XLSX.format(what="tên tệp là bảng tính Excel nhưng nội dung thì không"))
    return [read_csv(data, header_score, limits, deadline)]


# ---- workbooks -------------------------------------------------------------------------------

def _zip_directory(data: bytes, limits: Limits) -> zipfile.ZipFile:
    """Open the zip after checking its directory: part count, sizes and ratios (nothing unpacked)."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if end < 0 or len(data) < end + 22:
        raise Refused(_DAMAGED.format(why="không tìm thấy mục lục của tệp nén"))
    entries = struct.unpack("<H", data[end + 10:end + 12])[0]
    if entries > limits.parts:  # before zipfile builds one object per entry
        raise Refused(f"tệp có {fmt_int(entries)} phần, tối đa {fmt_int(limits.parts)}; đây không phải bảng tính "
                      "bình thường")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, struct.error, EOFError, OSError) as e:
        raise Refused(_DAMAGED.format(why="không giải nén được")) from e
    names = {i.filename for i in infos}
    if "[Content_Types].xml" not in names:
        if "mimetype" in names and b"opendocument" in zf.read("mimetype")[:100]:
            raise Refused(_NOT_XLSX.format(what="bảng tính OpenDocument .ods"))
        if any(n.startswith("word/") for n in names):
            raise Refused(_NOT_XLSX.format(what="văn bản Word"))
        raise Refused(_NOT_XLSX.format(what="tệp nén ZIP"))
    total = 0
    for i in infos:
        if i.flag_bits & 0x1:
            raise Refused(_PASSWORD)
        if i.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise Refused(_DAMAGED.format(why=f"phần {i.filename[:60]} nén theo cách Excel không dùng"))
        if i.file_size > limits.part_bytes:
            raise Refused(f"phần {i.filename[:60]} của tệp giải nén ra {size_text(i.file_size)}, tối đa "
                          f"{size_text(limits.part_bytes)} mỗi phần")
        if i.file_size > MB and i.file_size > limits.ratio * max(i.compress_size, 1):
            raise Refused(f"phần {i.filename[:60]} của tệp nén bất thường: {size_text(i.compress_size)} giải nén ra "
                          f"{size_text(i.file_size)} (gấp {fmt_int(i.file_size / max(i.compress_size, 1))} lần, "
                          f"tối đa {fmt_int(limits.ratio)} lần)")
        total += i.file_size
        if total > limits.total_bytes:
            raise Refused(f"tệp giải nén ra hơn {size_text(limits.total_bytes)} "
                          f"(tối đa {size_text(limits.total_bytes)})")
    return zf


_SHEET = re.compile(rb"<(?:[\w.\-]+:)?sheet\b[^>]*>")
_ATTR = re.compile(rb"([\w:.\-]+)=\"([^\"]*)\"")
_REL = re.compile(rb"<(?:[\w.\-]+:)?Relationship\b[^>]*>")


def _sheet_titles(zf: zipfile.ZipFile) -> dict[str, str]:
    """Part path → sheet name, read from the workbook part and its relationships with regular
    expressions (no tree is built); best effort, for messages only."""
    try:
        book = zf.read("xl/workbook.xml")[:MB]
        rels = zf.read("xl/_rels/workbook.xml.rels")[:MB]
    except (KeyError, zipfile.BadZipFile, EOFError, OSError):
        return {}
    targets = {}
    for tag in _REL.findall(rels):
        a = {k.decode(): v.decode("utf-8", "replace") for k, v in _ATTR.findall(tag)}
        if "Id" in a and "Target" in a:
            t = a["Target"]
            targets[a["Id"]] = t.lstrip("/") if t.startswith("/") else "xl/" + t
    out = {}
    for tag in _SHEET.findall(book):
        a = {k.decode().split(":")[-1]: v.decode("utf-8", "replace") for k, v in _ATTR.findall(tag)}
        if a.get("id") in targets and "name" in a:
            out[targets[a["id"]]] = html.unescape(a["name"])
    return out


_NS = rb"(?:[A-Za-z_][\w.\-]*:)?"
_ROW_END = re.compile(rb"</" + _NS + rb"row\s*>")
_VALUE = re.compile(rb"<" + _NS + rb"(?:v|is|f)[\s>/]")
_MERGE = re.compile(rb"<" + _NS + rb"mergeCell\b[^>]*?\bref=\"([A-Za-z]{1,3}\d{1,7}(?::[A-Za-z]{1,3}\d{1,7})?)\"")


@dataclass
class _Scan:
    rows: int = 0
    cells: int = 0
    merged: list = field(default_factory=list)


def _prescan(zf: zipfile.ZipFile, part: str, title: str, limits: Limits, deadline: float) -> _Scan:
    """Rows and cells holding a value (or a formula), and the merged ranges, from the raw XML."""
    scan = _Scan()
    open_row = False  # the row being read so far holds a value
    carry = b""
    with zf.open(part) as src:
        while chunk := src.read(MB):
            buf = carry + chunk
            cut = buf.rfind(b">") + 1  # never split a tag
            if cut == 0:  # inside a long text: keep only a tag that may be starting
                lt = buf.rfind(b"<")
                carry = buf[lt:] if lt >= 0 else b""
                continue
            body, carry = buf[:cut], buf[cut:]
            pieces = _ROW_END.split(body)
            for k, piece in enumerate(pieces):
                n = len(_VALUE.findall(piece))
                scan.cells += n
                has = open_row or n > 0
                if k < len(pieces) - 1:
                    scan.rows += has
                    open_row = False
                else:
                    open_row = has
                if len(scan.merged) <= limits.cells:
                    scan.merged += [m.decode() for m in _MERGE.findall(piece)]
            _check_counts(scan, title, limits)
            if _clock() > deadline:
                raise _too_slow(limits)
    scan.rows += open_row
    _check_counts(scan, title, limits)
    return scan


def _check_counts(scan: _Scan, title: str, limits: Limits) -> None:
    if scan.rows > limits.rows:
        raise Refused(f"trang có hơn {fmt_int(limits.rows)} dòng có nội dung (tối đa {fmt_int(limits.rows)} dòng "
                      "mỗi trang); xóa các dòng thừa hoặc tách tệp", title)
    if scan.cells > limits.cells:
        raise Refused(f"trang có hơn {fmt_int(limits.cells)} ô có nội dung (tối đa {fmt_int(limits.cells)} ô mỗi "
                      "trang); xóa các ô thừa hoặc tách tệp", title)


def _too_slow(limits: Limits) -> Refused:
    return Refused(f"đọc tệp quá {fmt_int(limits.seconds)} giây (giới hạn thời gian đọc một tệp); tệp quá lớn "
                   "hoặc có quá nhiều ô thừa, hãy xóa các trang, dòng, cột không dùng")


def read_xlsx(data: bytes, limits: Limits = LIMITS, deadline: float | None = None) -> list[Sheet]:
    """Every worksheet: rows holding a value, formulas, merged ranges, whether it is hidden."""
    deadline = deadline or _clock() + limits.seconds
    zf = _zip_directory(data, limits)
    # Every XML part is counted before openpyxl sees it: opening a workbook, openpyxl reads a sheet
    # without a <dimension> to its end (5,8 s and 190 MB for a million rows).
    titles = _sheet_titles(zf)
    scans = {}
    for info in zf.infolist():
        if not info.is_dir():  # every part: a sheet's part may have any name
            try:
                scans[info.filename] = _prescan(zf, info.filename, titles.get(info.filename, info.filename),
                                                limits, deadline)
            except (zipfile.BadZipFile, EOFError, OSError, ValueError) as e:
                raise Refused(_DAMAGED.format(why=f"phần {info.filename[:60]} không giải nén được")) from e
    try:
        book, listed = _workbook(data)
    except Exception as e:  # noqa: BLE001 - openpyxl raises many kinds on a damaged file
        raise Refused(_DAMAGED.format(why="Excel không đọc được cấu trúc sổ làm việc")) from e
    sheets = []
    try:
        for title, state, path in listed:
            part = path.lstrip("/")
            if part not in scans:
                raise Refused(_DAMAGED.format(why="thiếu nội dung một trang"), title)
            scan = scans[part]
            sheet = Sheet(title, hidden=state != "visible", merged=scan.merged)
            seen = 0
            with zf.open(part) as src:
                wb = book.wb
                try:
                    for number, cells in _sheet_xml().rows(src, book.shared_strings, wb.epoch, wb._date_formats,
                                                        wb._timedelta_formats):
                        values = {}
                        for c in cells:
                            v = c["value"]
                            if v is None:
                                continue
                            j = c["column"] - 1
                            if c["data_type"] == "f":
                                v = getattr(v, "text", None) or str(v)  # array and table formulas
                                sheet.formulas.add((number, j))
                            if isinstance(v, str) and not v.strip() and (number, j) not in sheet.formulas:
                                continue
                            if j >= limits.columns:
                                raise Refused(f"ô {_cell_name(number, j)} có giá trị nhưng nằm ngoài "
                                              f"{fmt_int(limits.columns)} cột đầu (tối đa số cột được đọc); "
                                              "xóa các ô thừa", title)
                            values[j] = v
                        if cells and any(c["value"] is not None for c in cells):
                            seen += 1
                        if values:
                            row = [None] * (max(values) + 1)
                            for j, v in values.items():
                                row[j] = v
                            sheet.rows.append((number, row))
                        if seen % 256 == 0 and _clock() > deadline:
                            raise _too_slow(limits)
                        if seen >= scan.rows:
                            break  # every row holding a value has been read
                except Refused:
                    raise
                except Exception as e:  # noqa: BLE001 - a malformed sheet
                    raise Refused(_DAMAGED.format(why="nội dung một trang không đúng định dạng"), title) from e
            sheets.append(sheet)
    finally:
        book.archive.close()
    return sheets


def _workbook(data: bytes):
    """openpyxl's reader with the workbook's strings, dates and styles read, and its worksheets listed as
    (title, state, part), in the workbook's order, chart sheets left out. Not `openpyxl.load_workbook`:
    in read-only mode it reads every sheet without a <dimension> to its end only to size it (11 of the
    19 s a workbook of 20.000 rows × 46 columns took); read_xlsx reads each sheet once, itself."""
    from openpyxl.reader.excel import ExcelReader
    from openpyxl.styles.stylesheet import apply_stylesheet

    book = ExcelReader(io.BytesIO(data), read_only=True, keep_vba=False, data_only=False, keep_links=False)
    try:
        book.read_manifest()
        book.read_strings()
        book.read_workbook()
        apply_stylesheet(book.archive, book.wb)
        listed = [(sheet.name, sheet.state, rel.target) for sheet, rel in book.parser.find_sheets()
                  if rel.target in book.valid_files and "chartsheet" not in rel.Type]
    except BaseException:
        book.archive.close()
        raise
    return book, listed


def _cell_name(row: int, col: int) -> str:
    from openpyxl.utils import get_column_letter

    return f"{get_column_letter(min(col + 1, 18_278))}{row}"


# ---- CSV -----------------------------------------------------------------------------------------

_DELIMITERS = ((",", "dấu phẩy"), (";", "dấu chấm phẩy"), ("\t", "tab"))
_HEAD_BYTES = 64 * 1024
_HEAD_ROWS = 40


def _looks_utf16(data: bytes) -> str | None:
    """'utf-16-le' / 'utf-16-be' for text saved as UTF-16 without a BOM (zero high bytes), else None."""
    sample = data[:4096]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) > 0.3 * len(odd) and even.count(0) < 0.05 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.3 * len(even) and odd.count(0) < 0.05 * len(odd):
        return "utf-16-be"
    return None


def _encodings(data: bytes) -> list[tuple[str, str]]:
    """(codec, name shown) to try, in order."""
    if data.startswith(codecs.BOM_UTF8):
        return [("utf-8-sig", "UTF-8")]
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return [("utf-16", "UTF-16")]
    if wide := _looks_utf16(data):
        return [(wide, "UTF-16")]
    # Excel on Vietnamese Windows saves "CSV" as Windows-1258; "CSV UTF-8" with a BOM
    return [("utf-8", "UTF-8"), ("cp1258", "Windows-1258")]


def read_csv(data: bytes, header_score: Callable[[list], int], limits: Limits = LIMITS,
             deadline: float | None = None) -> Sheet:
    """The table of a CSV: decoding and separator chosen by the known headers they reveal."""
    deadline = deadline or _clock() + limits.seconds
    tried = _encodings(data)
    best = None
    for ei, (codec, label) in enumerate(tried):
        try:
            text = codecs.getincrementaldecoder(codec)("strict").decode(data[:_HEAD_BYTES],
                                                                         final=len(data) <= _HEAD_BYTES)
        except UnicodeDecodeError:
            continue
        for di, (delim, delim_label) in enumerate(_DELIMITERS):
            try:
                rows = list(itertools.islice(csv.reader(io.StringIO(text, newline=""), delimiter=delim), _HEAD_ROWS))
            except csv.Error:
                continue
            score = max((header_score(r) for r in rows), default=0)
            key = (score, -ei, -di)
            if best is None or key > best[0]:
                best = (key, codec, label, delim, delim_label)
    if best is None:
        names = ", ".join(label for _, label in tried)
        raise Refused(f"không đọc được tệp văn bản bằng mã hóa {names}: lưu lại tệp bằng Excel dạng "
                      "CSV UTF-8 (Dấu phẩy phân tách) hoặc dạng .xlsx", "CSV")
    _, codec, label, delim, delim_label = best
    sheet = Sheet("CSV", note=f"mã hóa {label}, phân tách bằng {delim_label}")
    stream = io.TextIOWrapper(io.BytesIO(data), encoding=codec, errors="strict", newline="")
    number = 0
    try:
        for number, row in enumerate(csv.reader(stream, delimiter=delim), start=1):
            if number % 1024 == 0 and _clock() > deadline:
                raise _too_slow(limits)
            used = [j for j, v in enumerate(row) if v.strip()]
            if not used:
                continue
            if used[-1] >= limits.columns:
                raise Refused(f"dòng {fmt_int(number)} có giá trị ở cột thứ {fmt_int(used[-1] + 1)}, tối đa "
                              f"{fmt_int(limits.columns)} cột", "CSV")
            if len(sheet.rows) >= limits.rows:
                raise Refused(f"tệp có hơn {fmt_int(limits.rows)} dòng có nội dung (tối đa {fmt_int(limits.rows)} "
                              "dòng); tách tệp", "CSV")
            sheet.rows.append((number, row[:used[-1] + 1]))
    except UnicodeDecodeError as e:
        raise Refused(f"không đọc được tệp bằng mã hóa {label} ({_bad_bytes(data, codec)}): lưu lại tệp bằng Excel "
                      "dạng CSV UTF-8 hoặc .xlsx", "CSV") from e
    except csv.Error as e:
        raise Refused(f"dòng {fmt_int(number + 1)} không đọc được ({_csv_reason(e)}); kiểm tra dấu ngoặc kép "
                      "trong ô", "CSV") from e
    return sheet


def _bad_bytes(data: bytes, codec: str) -> str:
    """Where a file stops decoding: 'byte 0xFF ở dòng 3.003'."""
    try:
        data.decode(codec)
    except UnicodeDecodeError as e:
        line = data[:e.start].decode(codec, errors="replace").count("\n") + 1
        return f"byte 0x{data[e.start]:02X} ở dòng {fmt_int(line)}"
    return "ký tự hỏng"


def _csv_reason(e: csv.Error) -> str:
    if "field larger than field limit" in str(e):
        return f"một ô dài hơn {fmt_int(csv.field_size_limit())} ký tự"
    return "định dạng CSV không đúng"
