"""Office evidence files (docx, xlsx, pptx) checked by what they hold (issue 24 item 5).

An evidence file is opened by the Phòng's staff on their own computers, so an Office file is
refused, with the reason in Vietnamese, when:

- it carries macros: a VBA project (``vbaProject.bin``, ``vbaData.xml``, a relationship or content
  type naming one), a macro-enabled content type (``…macroEnabled…``), or ActiveX controls;
- any relationship (``*.rels`` part) points outside the file (``TargetMode="External"``): a remote
  template (``attachedTemplate``), a linked OLE object, a linked picture or frame, an external
  workbook: Office fetches these when the file is opened (or asks to), which reveals the reader
  to another host or pulls content in. Hyperlinks are the one kind allowed: Office follows them
  only when the reader clicks one (and warns first), and schools' reports routinely cite web
  pages;
- its zip directory is beyond the importer's limits (kpi.imports.import_read.LIMITS, the same numbers:
  parts, one part unpacked, all parts unpacked, the ratio of a large part): a small file that
  unpacks to hundreds of MB is refused before anything is unpacked.

Only the directory, ``[Content_Types].xml`` and the ``.rels`` parts are read (each bounded); the
XML is scanned as text (no parser, no entity expansion), in UTF-8 or UTF-16 as Office may write it.
"""

from __future__ import annotations

import html
import io
import re
import struct
import zipfile

from kpi.common.formatting import fmt_int
from kpi.imports.import_read import LIMITS, MB, Limits, size_text

RELS_MAX = MB  # a .rels part lists links; one above this is not an Office document's
_REL = re.compile(r"<(?:[\w.\-]+:)?Relationship\b[^>]*>", re.I)
_ATTR = re.compile(r"([\w:.\-]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
_MACRO_TYPES = ("vbaproject", "vbadata", "macroenabled", "activex")
ALLOWED_EXTERNAL = ("/hyperlink",)  # relationship types (their last segment) allowed to point outside


class OfficeRefused(ValueError):
    """An Office file refused for what it holds; the message (Vietnamese) says why."""


def _xml_text(data: bytes) -> str:
    """An XML part as text: UTF-16 (with or without BOM) or UTF-8, as Office may write it."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16", "replace")
    if data[:4] == b"<\x00?\x00" or data[:2] == b"<\x00":
        return data.decode("utf-16-le", "replace")
    if data[:4] == b"\x00<\x00?" or data[:2] == b"\x00<":
        return data.decode("utf-16-be", "replace")
    return data.decode("utf-8", "replace")


def _directory(name: str, data: bytes, limits: Limits) -> zipfile.ZipFile:
    """The zip, after its directory passes the import limits (nothing unpacked yet)."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if end < 0 or len(data) < end + 22:
        raise OfficeRefused(f"Tệp {name} bị hỏng (không đọc được mục lục của tệp nén): lưu lại tệp rồi tải lên lại.")
    entries = struct.unpack("<H", data[end + 10:end + 12])[0]
    if entries > limits.parts:  # before zipfile builds one object per entry
        raise OfficeRefused(f"Tệp {name} có {fmt_int(entries)} phần, tối đa {fmt_int(limits.parts)}: "
                            "không phải tệp Office bình thường.")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, struct.error, EOFError, OSError) as e:
        raise OfficeRefused(f"Tệp {name} bị hỏng (không giải nén được): lưu lại tệp rồi tải lên lại.") from e
    total = 0
    for i in infos:
        part = i.filename[:60]
        if i.flag_bits & 0x1:
            raise OfficeRefused(f"Tệp {name} bị khóa bằng mật khẩu: bỏ mật khẩu, lưu lại rồi tải lên lại.")
        if i.file_size > limits.part_bytes:
            raise OfficeRefused(f"Tệp {name}: phần {part} giải nén ra {size_text(i.file_size)}, tối đa "
                          f"{size_text(limits.part_bytes)} mỗi phần.")
        if i.file_size > MB and i.file_size > limits.ratio * max(i.compress_size, 1):
            raise OfficeRefused(f"Tệp {name} nén bất thường: phần {part} {size_text(i.compress_size)} giải nén ra "
                          f"{size_text(i.file_size)} (gấp {fmt_int(i.file_size / max(i.compress_size, 1))} lần, "
                          f"tối đa {fmt_int(limits.ratio)} lần).")
        total += i.file_size
        if total > limits.total_bytes:
            raise OfficeRefused(f"Tệp {name} giải nén ra hơn {size_text(limits.total_bytes)} (tối đa "
                          f"{size_text(limits.total_bytes)}).")
    return zf


def _part(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> str:
    if info.file_size > RELS_MAX:
        raise OfficeRefused(f"Tệp {name}: phần {info.filename[:60]} lớn bất thường ({size_text(info.file_size)}).")
    try:
        with zf.open(info) as f:
            return _xml_text(f.read(RELS_MAX + 1))
    except (zipfile.BadZipFile, ValueError, EOFError, OSError, NotImplementedError) as e:
        raise OfficeRefused(f"Tệp {name} bị hỏng (không giải nén được): lưu lại tệp rồi tải lên lại.") from e


def _macro(text: str) -> bool:
    low = text.lower()
    return any(t in low for t in _MACRO_TYPES)


def check_office(name: str, data: bytes, limits: Limits = LIMITS) -> None:
    """Raise OfficeRefused (Vietnamese, naming the file and the reason) unless the Office file `data` is
    within the import limits, holds no macro and links to nothing outside itself but hyperlinks."""
    zf = _directory(name, data, limits)
    macro = ("Tệp {name} chứa macro ({what}): lưu lại dạng tài liệu không có macro (.docx, .xlsx, .pptx) "
             "rồi tải lên lại.")
    for info in zf.infolist():
        base = info.filename.rsplit("/", 1)[-1].lower()
        if base.startswith(("vbaproject", "vbadata")) or info.filename.lower().startswith(("word/activex", "xl/activex",
                                                                                            "ppt/activex")):
            raise OfficeRefused(macro.format(name=name, what=info.filename[:60]))
    for info in zf.infolist():
        if info.filename == "[Content_Types].xml":
            types = _part(zf, info, name)
            found = next((t for t in re.findall(r"ContentType\s*=\s*[\"']([^\"']*)", types) if _macro(t)), None)
            if found or _macro(types):
                raise OfficeRefused(macro.format(name=name, what=found or "khai báo kiểu nội dung có macro"))
        elif info.filename.lower().endswith(".rels"):
            for tag in _REL.findall(_part(zf, info, name)):
                attrs = {k.rsplit(":", 1)[-1].lower(): html.unescape(a if a or not b else b)
                         for k, a, b in _ATTR.findall(tag)}
                kind = attrs.get("type", "")
                if _macro(kind):
                    raise OfficeRefused(macro.format(name=name, what=kind.rsplit("/", 1)[-1][:40]))
                if attrs.get("targetmode", "").strip().lower() == "external" and \
                        not kind.strip().endswith(ALLOWED_EXTERNAL):
                    what = kind.rsplit("/", 1)[-1][:40] or "không rõ loại"
                    raise OfficeRefused(f"Tệp {name} liên kết ra ngoài tệp ({what} → {attrs.get('target', '')[:80]}): "
                                  "Office sẽ tải nội dung từ máy khác khi mở tệp. Bỏ liên kết (ví dụ Tệp › Thông tin "
                                  "› Sửa liên kết, hoặc nhúng hẳn nội dung), lưu lại rồi tải lên lại.")
