"""Evidence files are checked by what they hold (issue 24 item 5): Office files with macros, with
relationships to other hosts, or beyond the importer's zip limits are refused with a Vietnamese
reason; an Office file as Word, Excel and PowerPoint write it (hyperlinks included) is accepted.

The files are real zip files built here the way Office lays them out. Each refusal is checked once
as shipped and once with the content check planted away (made a no-op): then the forged file must
get through, proving the test would catch its loss.
"""

from __future__ import annotations

import functools
import io
import zipfile

import pytest

from kpi.admin.auth import User
from kpi.imports import evidence, import_read
from kpi.views import cache as views
from kpi.workflows import assessment as asm
from kpi.workflows import evidence_files

YEAR = "2023-2024"
HT_TH = User("ht.th001", "HT TH001", "hieu_truong", "TH001", None)

CT = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
      '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
      '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
      '<Default Extension="xml" ContentType="application/xml"/>'
      '<Override PartName="/{main}" ContentType="{main_type}"/>{extra}</Types>')
MAIN = {  # kind → (main part, its content type)
    "docx": ("word/document.xml", "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"),
    "xlsx": ("xl/workbook.xml", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"),
    "pptx": ("ppt/presentation.xml",
             "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"),
}
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
HYPERLINK = f'<Relationship Id="rId9" Type="{R}/hyperlink" Target="https://moet.gov.vn/" TargetMode="External"/>'


def rels(*items: str) -> str:
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            + "".join(items) + "</Relationships>")


def office(kind: str = "docx", parts: dict | None = None, main_type: str | None = None, extra_types: str = "",
           main_rels: str = HYPERLINK) -> bytes:
    """An Office file laid out as Office writes it, with `parts` added or replaced."""
    main, mtype = MAIN[kind]
    folder = main.split("/")[0]
    files = {
        "[Content_Types].xml": CT.format(main=main, main_type=main_type or mtype, extra=extra_types),
        "_rels/.rels": rels(f'<Relationship Id="rId1" Type="{R}/officeDocument" Target="{main}"/>'),
        main: "<document><body>Kế hoạch chuyển đổi số</body></document>",
        f"{folder}/_rels/{main.split('/')[1]}.rels": rels(main_rels),
    }
    files.update(parts or {})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, body in files.items():
            z.writestr(name, body if isinstance(body, bytes) else body.encode("utf-8"))
    return buf.getvalue()


@functools.lru_cache(maxsize=None)
def bomb(unpacked: int, name: str = "word/media/image1.png") -> bytes:
    """A docx whose one part unpacks to `unpacked` bytes of zeros (a few hundred KB packed)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        src = zipfile.ZipFile(io.BytesIO(office()))
        for info in src.infolist():
            z.writestr(info.filename, src.read(info))
        with z.open(name, "w") as f:
            chunk = b"\x00" * (8 * 1024 * 1024)
            for _ in range(unpacked // len(chunk)):
                f.write(chunk)
    return buf.getvalue()


TEMPLATE = rels(f'<Relationship Id="rId1" Type="{R}/attachedTemplate" '
                'Target="http://may-khac.example/mau.dotm" TargetMode="External"/>')
GOOD = [
    ("ke_hoach.docx", office("docx"), "docx"),
    ("so_lieu.xlsx", office("xlsx"), "xlsx"),
    ("trinh_chieu.pptx", office("pptx"), "pptx"),
    ("lien_ket.docx", office("docx", main_rels=HYPERLINK + HYPERLINK.replace("rId9", "rId10")), "docx"),
]
BAD = [  # (why, file name, bytes, the refusal says)
    ("vbaProject.bin", "macro.docx",
     office("docx", {"word/vbaProject.bin": b"\xd0\xcf\x11\xe0VBA"}), "chứa macro"),
    ("vbaProject renamed, found by its relationship", "macro2.docx",
     office("docx", {"word/x.bin": b"\xd0\xcf\x11\xe0"},
            main_rels='<Relationship Id="rId5" Type="http://schemas.microsoft.com/office/2006/relationships/'
                      'vbaProject" Target="x.bin"/>'), "chứa macro"),
    ("macro-enabled content type", "macro3.xlsx",
     office("xlsx", main_type="application/vnd.ms-excel.sheet.macroEnabled.main+xml"), "chứa macro"),
    ("ActiveX control", "activex.docx",
     office("docx", {"word/activeX/activeX1.xml": "<ax/>"}), "chứa macro"),
    ("remote template", "mau.docx",
     office("docx", {"word/_rels/settings.xml.rels": TEMPLATE, "word/settings.xml": "<settings/>"}),
     "liên kết ra ngoài tệp (attachedTemplate"),
    ("linked OLE object", "ole.xlsx",
     office("xlsx", {"xl/worksheets/_rels/sheet1.xml.rels": rels(
         f'<Relationship Id="rId2" Type="{R}/oleObject" Target="\\\\may-khac\\chia-se\\x.xlsx" '
         'TargetMode="External"/>')}), "liên kết ra ngoài tệp (oleObject"),
    ("linked picture, single quotes and an entity", "anh.pptx",
     office("pptx", {"ppt/slides/_rels/slide1.xml.rels": rels(
         f"<Relationship Id='rId3' Type='{R}/image' Target='http://may-khac.example/x.png' "
         "TargetMode='&#69;xternal'/>")}), "liên kết ra ngoài tệp (image"),
    ("external relationship written in UTF-16", "utf16.docx",
     office("docx", {"word/_rels/settings.xml.rels": "\ufeff".encode("utf-16-le") + TEMPLATE.replace(
         'encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16-le")}), "liên kết ra ngoài tệp"),
    ("a part above the import's ratio", "nen.docx", bomb(8 * 1024 * 1024), "nén bất thường"),
    ("a part that unpacks to 200 MB", "bom.docx", bomb(200 * 1024 * 1024), "giải nén ra 200 MB"),
]


@pytest.mark.parametrize("name, data, kind", GOOD, ids=[g[0] for g in GOOD])
def test_office_files_as_office_writes_them_are_accepted(name, data, kind):
    assert asm.evidence_kind(name, data) == kind


@pytest.mark.parametrize("why, name, data, says", BAD, ids=[b[0] for b in BAD])
def test_forged_office_files_are_refused_with_the_reason(why, name, data, says):
    with pytest.raises(asm.AssessmentError) as refused:
        asm.evidence_kind(name, data)
    message = str(refused.value)
    assert message.startswith(f"Tệp {name}") and says in message, message
    assert "Error" not in message and "Traceback" not in message


def test_the_bomb_is_small_and_refused_before_unpacking(monkeypatch):
    data = bomb(200 * 1024 * 1024)
    assert len(data) < asm.MAX_FILE, "the forged file passes the size check: only its content can refuse it"
    opened = []
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda *a, **k: opened.append(a) or pytest.fail("unpacked"))
    with pytest.raises(evidence.OfficeRefused, match="200 MB"):
        evidence.check_office("bom.docx", data)
    assert not opened


def test_the_limits_are_the_importers():
    assert evidence.check_office.__defaults__ == (import_read.LIMITS,)  # the same object, not a copy
    data = office("docx", {"word/media/a.bin": b"x" * 4096})
    evidence.check_office("a.docx", data)
    with pytest.raises(evidence.OfficeRefused, match="tối đa 1 KB mỗi phần"):
        evidence.check_office("a.docx", data, import_read.Limits(part_bytes=1024))


@pytest.mark.parametrize("why, name, data, says", BAD, ids=[b[0] for b in BAD])
def test_planted_no_content_check_lets_every_forged_file_through(why, name, data, says, monkeypatch):
    monkeypatch.setattr(evidence_files, "check_office", lambda *a, **k: None)
    assert asm.evidence_kind(name, data) in MAIN  # what the test above refuses would be stored


def test_attach_refuses_a_macro_file_and_stores_nothing(entry_db):
    d = views.views_for(entry_db).assessor(HT_TH.scope)
    before = d.assessment(HT_TH, "TH001", YEAR)
    with pytest.raises(asm.AssessmentError, match="chứa macro"):
        d.attach(HT_TH, "TH001", YEAR, "DH4", "macro.docx", BAD[0][2])
    after = d.assessment(HT_TH, "TH001", YEAR)
    assert (after.version, len(after.evidence)) == (before.version, len(before.evidence))
    ok = d.attach(HT_TH, "TH001", YEAR, "DH4", "tai\u202efdp.docx", office("docx"))
    assert ok.kind == "docx" and ok.file_name == "taifdp.docx"  # no right-to-left override survives


# ---- downloads: /media/ only for a live session, nosniff and attachment ---------------------------------

def media_answers(guarded, token: str | None) -> tuple[int, dict, str]:
    """GET a /media/ URL through `guarded` (an ASGI app) with or without a session cookie."""
    from tests.test_csrf import ASGIClient

    c = ASGIClient("127.0.0.1:8501", guarded)
    if token:
        c.cookies["kpi_phien"] = token
    return c.send("GET", "/media/0123abcd.pdf")


async def streamlit_media(scope, receive, send):
    """Streamlit's media endpoint as it answers an image (no Content-Disposition, no nosniff)."""
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]})
    await send({"type": "http.response.body", "body": b"<html><script>alert(1)</script>"})


def check_media_guard(guarded, store_token, revoke) -> None:
    status, _, text = media_answers(guarded, None)
    assert status == 403 and "chỉ tải được khi đang đăng nhập" in text
    assert media_answers(guarded, "gia.mao")[0] == 403
    status, headers, _ = media_answers(guarded, store_token)
    assert status == 200
    assert headers["x-content-type-options"] == "nosniff" and headers["content-disposition"] == "attachment"
    revoke(store_token)
    assert media_answers(guarded, store_token)[0] == 403  # a logged-out session gets nothing


def test_media_needs_a_live_session_and_is_never_sniffed(entry_db, monkeypatch):
    from kpi.admin import auth
    from pages._media import MediaGuard
    from tests.conftest import token_for

    monkeypatch.setenv("KPI_DB", str(entry_db))
    check_media_guard(MediaGuard(streamlit_media), token_for("ht.th001"), auth.sessions().revoke)


def test_media_of_a_disabled_account_is_refused(entry_db, monkeypatch):
    from kpi.store import db
    from pages._media import MediaGuard, live_user
    from tests.conftest import token_for

    monkeypatch.setenv("KPI_DB", str(entry_db))
    token = token_for("ht.th001")
    assert live_user(token) is not None
    with db.writing(entry_db) as con:
        con.execute("UPDATE users SET active = false WHERE user_name = 'ht.th001'")
    assert live_user(token) is None
    assert media_answers(MediaGuard(streamlit_media), token)[0] == 403


def test_planted_unguarded_media_is_caught(entry_db, monkeypatch):
    from kpi.admin import auth
    from tests.conftest import token_for

    monkeypatch.setenv("KPI_DB", str(entry_db))
    with pytest.raises(AssertionError):
        check_media_guard(streamlit_media, token_for("ht.th001"), auth.sessions().revoke)
