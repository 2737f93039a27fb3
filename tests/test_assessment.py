"""The yearly maturity assessment in the store (kpi.workflows.assessment): evidence checked by its bytes and
sizes, a principal's calls reach only the own school (forged ids refused, nothing written), bad
input refused with Vietnamese messages, the whole cycle to a publication that the index reads, and
the sample with schools in every state."""

import io
import zipfile

import pytest

from kpi.admin.auth import User
from kpi.common.access import Scope
from kpi.store import db, queries, state
from kpi.tools.sample import SAMPLE_PDF
from kpi.views import cache as views
from kpi.workflows import assessment as asm
from kpi.workflows import evidence_files, publication
from tests.conftest import STORES, on_store

YEAR, PREV = "2023-2024", "2022-2023"
OFFICE = User("chuyenvien", "Chuyên viên", "chuyen_vien", None, None)
HT_TH = User("ht.th001", "HT TH001", "hieu_truong", "TH001", None)
HT_THCS = User("ht.thcs001", "HT THCS001", "hieu_truong", "THCS001", None)
NL_TH = User("nl.th001", "NL TH001", "truong_nhap_lieu", "TH001", None)


@pytest.fixture(params=STORES)
def entry_db(request, entry_db):
    """The sample's copy on either state store: every test here runs on SQLite and on PostgreSQL."""
    return on_store(request, entry_db)


def desk_for(path, user):
    return views.views_for(path).assessor(user.scope)


def office_zip(parts: list[str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        for p in parts:
            z.writestr(p, "<x/>")
    return buf.getvalue()


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 40
EVIDENCE = [  # (name, bytes, kind or the start of the refusal)
    ("ke_hoach.pdf", SAMPLE_PDF, "pdf"),
    ("anh.png", PNG, "png"),
    ("anh.JPG", JPEG, "jpeg"),
    ("quy_che.docx", office_zip(["word/document.xml"]), "docx"),
    ("thong_ke.xlsx", office_zip(["xl/workbook.xml"]), "xlsx"),
    ("trinh_chieu.pptx", office_zip(["ppt/presentation.xml"]), "pptx"),
    ("ke_hoach.pdf", b"MZ\x90\x00 an executable", "Tệp ke_hoach.pdf không phải loại được nhận"),
    ("trang.pdf", b"<html><script>alert(1)</script></html>", "Tệp trang.pdf không phải loại được nhận"),
    ("nen.docx", b"PK\x03\x04not really a zip", "Tệp nen.docx không phải loại được nhận"),
    ("khac.docx", office_zip(["other/thing.xml"]), "Tệp khac.docx không phải loại được nhận"),
    ("anh.png", SAMPLE_PDF, "Tệp anh.png là PDF nhưng tên tệp có đuôi khác"),
    ("rong.pdf", b"", "Tệp rong.pdf rỗng."),
    ("lon.pdf", b"%PDF-" + b"0" * (6 * 1024 * 1024), "Tệp lon.pdf có 6 MB, quá giới hạn 5 MB mỗi tệp."),
]


@pytest.mark.parametrize("name, data, expected", EVIDENCE, ids=[f"{e[0]}-{i}" for i, e in enumerate(EVIDENCE)])
def test_evidence_kind_by_bytes(name, data, expected):
    if expected in asm.KINDS:
        assert asm.evidence_kind(name, data) == expected
        return
    with pytest.raises(asm.AssessmentError) as refused:
        asm.evidence_kind(name, data)
    assert str(refused.value).startswith(expected)


def test_safe_name_drops_folders_and_controls():
    assert asm.safe_name("../../etc/passwd") == "passwd"
    assert asm.safe_name("C:\\x\\ảnh\x00.png") == "ảnh_.png"


def _version(path):
    return state.store_for(path).assessment_version()


def test_forged_school_ids_are_refused_and_nothing_is_written(entry_db):
    """A principal's calls name another school: refused, audited, nothing changes. Planted: the same
    calls with the own school pass (the checks can fail)."""
    d = desk_for(entry_db, HT_TH)
    assert set(d.schools) == {"TH001"}  # the scope itself holds only the own school
    before = _version(entry_db)
    calls = [
        lambda: d.assessment(HT_TH, "TH002", YEAR),
        lambda: d.save(HT_TH, "TH002", YEAR, {"DH4": {"points": 5}}, 0),
        lambda: d.attach(HT_TH, "TH002", YEAR, "DH1", "a.pdf", SAMPLE_PDF),
        lambda: d.verify(HT_TH, "TH002", YEAR, "DH4", 5, comment="thử xem"),
    ]
    for call in calls:
        with pytest.raises(asm.AssessmentError, match="không có quyền"):
            call()
    assert _version(entry_db) == before
    refused = [r for r in state.store_for(entry_db).audit_rows(20, "tu_choi") if '"TH002"' in (r["detail"] or "")]
    assert len(refused) >= len(calls)
    # a desk built for the office but used with a principal's user is refused the same way
    office_desk = desk_for(entry_db, OFFICE)
    with pytest.raises(asm.AssessmentError, match="không có quyền"):
        office_desk.save(HT_TH, "TH002", YEAR, {}, 0)
    mine = d.assessment(HT_TH, "TH001", YEAR)  # planted: the own school passes
    d.save(HT_TH, "TH001", YEAR, {"DH4": {"points": 5}}, mine.version)
    assert _version(entry_db) == before + 1


def test_evidence_served_only_to_those_who_may_see_it(entry_db):
    own = desk_for(entry_db, HT_TH).assessment(HT_TH, "TH001", YEAR)
    assert own.evidence, "the sample gives TH001 an evidence file"
    eid = own.evidence[0].evidence_id
    name, mime, data = desk_for(entry_db, HT_TH).evidence_file(HT_TH, eid)
    assert (name, mime, data) == ("ke_hoach_day_hoc_truc_tuyen.pdf", "application/pdf", SAMPLE_PDF)
    assert (mime, data) == ("application/pdf", SAMPLE_PDF)
    assert desk_for(entry_db, OFFICE).evidence_file(OFFICE, eid)[2] == SAMPLE_PDF
    with pytest.raises(asm.AssessmentError, match="không có quyền"):
        desk_for(entry_db, HT_THCS).evidence_file(HT_THCS, eid)
    with pytest.raises(asm.AssessmentError, match="không có quyền"):  # the right desk, the wrong person
        desk_for(entry_db, HT_TH).evidence_file(HT_THCS, eid)
    audit = state.store_for(entry_db).audit_rows(50)
    assert any(r["action"] == "tai_minh_chung" and r["user_name"] == "chuyenvien" for r in audit)
    assert any(r["action"] == "tu_choi" and r["user_name"] == "ht.thcs001" for r in audit)


def test_attach_checks_sizes_and_state(entry_db, monkeypatch):
    d = desk_for(entry_db, HT_TH)
    ev = d.attach(HT_TH, "TH001", YEAR, "DH4", "anh.png", PNG)
    assert ev.kind == "png" and ev.size == len(PNG)
    monkeypatch.setattr(evidence_files, "MAX_SCHOOL", ev.size + len(SAMPLE_PDF) + 10)
    with pytest.raises(asm.AssessmentError, match="vượt giới hạn"):
        d.attach(HT_TH, "TH001", YEAR, "DH4", "b.png", PNG)
    with pytest.raises(asm.AssessmentError, match="không phải tiêu chí"):
        d.attach(HT_TH, "TH001", YEAR, "DH3", "b.png", PNG)  # a sum row is not assessed itself
    with pytest.raises(asm.AssessmentError, match="Nhập liệu của trường không được"):
        d.attach(NL_TH, "TH001", YEAR, "DH4", "b.png", PNG)  # the data-entry account does not assess
    office = desk_for(entry_db, OFFICE)
    sub = office.states(YEAR)
    with pytest.raises(asm.AssessmentError, match="^Tài khoản Chuyên viên Phòng không được lưu nháp"):
        office.attach(OFFICE, sub[sub["state"] == "nhap"]["school_id"].iloc[0], YEAR, "DH4", "b.png", PNG)
    with pytest.raises(asm.AssessmentError, match="^Không thể lưu nháp: bản tự đánh giá đã nộp"):
        office.attach(OFFICE, sub[sub["state"] == "da_nop"]["school_id"].iloc[0], YEAR, "DH4", "b.png", PNG)


BAD = [  # (values, the start of the problem)
    ({"DH4": {"points": 11}}, "DH4 Học liệu số hóa: 11 điểm nằm ngoài khoảng 0 đến 10."),
    ({"DH4": {"points": -1}}, "DH4 Học liệu số hóa: -1 điểm nằm ngoài khoảng 0 đến 10."),
    ({"DH4": {"points": "mười"}}, "DH4 Học liệu số hóa: 'mười' không phải là số điểm."),
    ({"DH4": {"points": 2.3}}, "DH4 Học liệu số hóa: điểm chấm theo bước 0,5 (2,3 không hợp lệ)."),
    ({"DH1": {"met": "có"}}, "DH1: chọn Đạt hoặc Chưa đạt."),
    ({"XX9": {"points": 1}}, "XX9: không phải tiêu chí được tự đánh giá."),
    ({"DH4": {"points": 5, "note": "x" * 1001}}, "DH4 ghi chú: quá dài"),
]


@pytest.mark.parametrize("values, problem", BAD)
def test_bad_input_is_refused_and_nothing_is_written(entry_db, values, problem):
    d = desk_for(entry_db, HT_TH)
    a = d.assessment(HT_TH, "TH001", YEAR)
    before = _version(entry_db)
    with pytest.raises(asm.AssessmentError) as refused:
        d.save(HT_TH, "TH001", YEAR, values, a.version)
    assert str(refused.value) == "Chưa lưu được: còn lỗi cần sửa."
    assert any(p.startswith(problem) for p in refused.value.problems), refused.value.problems
    assert _version(entry_db) == before
    assert d.assessment(HT_TH, "TH001", YEAR).items == a.items


def test_submit_needs_every_criterion_and_a_stale_version_is_refused(entry_db):
    d = desk_for(entry_db, HT_TH)
    a = d.assessment(HT_TH, "TH001", YEAR)
    assert a.state == "nhap"
    before = _version(entry_db)
    unanswered = [c.code for c in asm.scored_criteria(d.catalog)
                  if c.code not in a.items
                  or (a.items[c.code].self_points is None and a.items[c.code].self_met is None)]
    assert 0 < len(unanswered) < len(asm.scored_criteria(d.catalog))  # the sample's draft is half filled
    with pytest.raises(asm.AssessmentError) as refused:
        d.save(HT_TH, "TH001", YEAR, {}, a.version, submit=True)
    assert str(refused.value) == "Chưa nộp được: còn lỗi cần sửa."
    assert [p.split(" ")[0] for p in refused.value.problems] == unanswered
    assert _version(entry_db) == before
    assert d.assessment(HT_TH, "TH001", YEAR).state == "nhap"  # nothing moved
    saved = d.save(HT_TH, "TH001", YEAR, {"DH4": {"points": 4}}, a.version)
    with pytest.raises(asm.Conflict, match="tải lại"):
        d.save(HT_TH, "TH001", YEAR, {"DH4": {"points": 6}}, a.version)
    assert d.assessment(HT_TH, "TH001", YEAR).items["DH4"].self_points == 4 == saved.items["DH4"].self_points


def full(catalog, points=None):
    return {c.code: ({"met": True} if c.rule == "condition" else {"points": points if points is not None
                                                                   else c.max_points}) for c in
            asm.scored_criteria(catalog)}


def test_the_whole_cycle_to_a_publication_the_index_reads(entry_db):
    """THCS001 (returned in the sample) corrects and submits; the office changes one criterion with a
    comment, returns one criterion, the school resubmits, the office approves and publishes: the
    analytics file's entries and the stored index carry the published points; the year before
    stays as it was published."""
    d, o = desk_for(entry_db, HT_THCS), desk_for(entry_db, OFFICE)
    a = d.assessment(HT_THCS, "THCS001", YEAR)
    assert a.state == "tra_lai" and a.items["DH4"].returned and a.reason
    c = db.connect(entry_db)
    prev_before = c.execute("SELECT * FROM criterion_scores WHERE school_year = ? ORDER BY ALL", [PREV]).fetchall()
    prev_pub = queries.publications(c, Scope.everything(), PREV)
    c.close()
    assert len(prev_pub) == 1
    a = d.save(HT_THCS, "THCS001", YEAR, full(d.catalog), a.version, submit=True)
    assert a.state == "da_nop" and not a.items["DH4"].returned
    with pytest.raises(asm.AssessmentError, match="cần ghi nhận xét"):
        o.verify(OFFICE, "THCS001", YEAR, "DH4", 6, comment="")
    a = o.verify(OFFICE, "THCS001", YEAR, "DH4", 6, comment="Chỉ 6/10 môn có học liệu số.")
    assert (a.items["DH4"].verified_points, a.state) == (6, "da_nop")
    with pytest.raises(asm.AssessmentError, match="Cần ghi lý do trả lại"):
        o.send_back(OFFICE, "THCS001", YEAR, a.version, "", {"QT3.1": "x"})
    a = o.send_back(OFFICE, "THCS001", YEAR, a.version, "Bổ sung minh chứng QT3.1", {"QT3.1": "Thiếu minh chứng"})
    assert a.state == "tra_lai" and a.items["QT3.1"].returned and a.items["QT3.1"].comment == "Thiếu minh chứng"
    a = d.save(HT_THCS, "THCS001", YEAR, full(d.catalog), a.version, submit=True)
    a = o.approve(OFFICE, "THCS001", YEAR, a.version)
    assert a.state == "da_duyet"
    assert a.items["DH4"].verified_points == 6 and a.items["DH5.1"].verified_points == 15  # the school's, verified
    with pytest.raises(asm.AssessmentError, match="^Tài khoản Hiệu trưởng không được công bố"):
        d.publish(HT_THCS, YEAR)
    pid = o.publish(OFFICE, YEAR)
    assert pid == f"CB-{YEAR}-01"
    assert d.assessment(HT_THCS, "THCS001", YEAR).state == "da_cong_bo"
    c = db.connect(entry_db)
    try:
        row = c.execute("SELECT self_points, verified_points FROM criterion_scores WHERE school_id = 'THCS001' AND "
                        "school_year = ? AND criterion_code = 'DH4'", [YEAR]).fetchall()
        assert row == [(10.0, 6.0)]
        pubs = queries.publications(c, Scope.everything(), YEAR)
        assert (list(pubs["publication_id"]) == [pid]
                and pubs["content_hash"].iloc[0] == publication.content_hash(c, pid))
        scored = queries.maturity_schools(c, d.catalog, Scope.school("THCS001"), [YEAR])
        assert float(scored["dh_points"].iloc[0]) == 96.0  # 100 points, DH4 verified at 6 of 10
        assert int(scored["school_level"].iloc[0]) == 3
        assert c.execute("SELECT * FROM criterion_scores WHERE school_year = ? ORDER BY ALL",
                         [PREV]).fetchall() == prev_before
        again = queries.publications(c, Scope.everything(), PREV)
        assert again["content_hash"].tolist() == prev_pub["content_hash"].tolist()
        assert bool(queries.publications(c, Scope.school("THCS001"), YEAR)["includes_school"].iloc[0])
        assert not bool(queries.publications(c, Scope.school("TH001"), YEAR)["includes_school"].iloc[0])
    finally:
        c.close()
    done, said = publication.sentence(views.views_for(entry_db).publications(Scope.school("TH001"), YEAR), YEAR,
                                      school=True)
    assert not done and "chưa gồm trường này" in said
    actions = [r["action"] for r in state.store_for(entry_db).audit_rows(30)]
    for action in ("danh_gia_nop", "danh_gia_xac_nhan", "danh_gia_tra_lai", "danh_gia_duyet", "danh_gia_cong_bo"):
        assert action in actions


def test_review_rows_flag_differences_over_the_threshold_first(entry_db):
    o = desk_for(entry_db, OFFICE)
    a = asm.Assessment("X", YEAR, "da_nop", 1, {"DH4": asm.Item("DH4", self_points=10),
                                                 "DH6.1": asm.Item("DH6.1", self_points=5)})
    rows = o.review_rows(a, {"DH4": 4.0, "DH6.1": 3.5}, threshold=3.0)
    assert list(rows["code"][:1]) == ["DH4"] and rows["flagged"].tolist().count(True) == 1
    assert rows.loc[rows["code"] == "DH6.1", "difference"].iloc[0] == 1.5
    assert not o.review_rows(a, {"DH4": 4.0}, threshold=6.0)["flagged"].any()


def test_running_result_uses_the_scoring_engine(entry_db):
    cat = desk_for(entry_db, OFFICE).catalog
    top = asm.running_result(full(cat), {}, "X", YEAR, cat)
    assert top["level"] == 3 and top["answered"] == top["total"]
    half = asm.running_result(full(cat, 0), {}, "X", YEAR, cat)
    assert half["level"] == 1 and all(pts == 0 for _, _, pts, _, _ in half["groups"])
    unmet = {**full(cat), "DH1": {"met": False}}
    assert asm.running_result(unmet, {}, "X", YEAR, cat)["groups"][0][3] == 1  # an unmet condition caps at Mức 1
    suggested = asm.running_result({}, {"DH4": 10.0}, "X", YEAR, cat)
    assert suggested["groups"][0][2] == 10.0 and suggested["answered"] == 0


def test_the_sample_has_schools_in_every_state(entry_db):
    o = desk_for(entry_db, OFFICE)
    p = o.progress(YEAR)
    assert all(p["counts"][s] > 0 for s in ("chua_bat_dau", "nhap", "da_nop", "tra_lai", "da_duyet"))
    assert o.progress(PREV)["counts"]["da_cong_bo"] == p["schools"] > 0
    rem = o.reminders(YEAR)
    assert set(rem["Trạng thái"]) == {asm.STATES[s] for s in ("chua_bat_dau", "nhap", "tra_lai")}
    assert len(rem) == p["counts"]["chua_bat_dau"] + p["counts"]["nhap"] + p["counts"]["tra_lai"]
    assert p["deadline"].strftime("%d/%m/%Y") == "31/05/2024"
    assert asm.progress_sentence({"deadline": p["deadline"], "days_left": 12}) == "Còn 12 ngày đến hạn nộp 31/05/2024."
    assert asm.progress_sentence({"deadline": p["deadline"], "days_left": -3}) == \
        "Đã quá hạn nộp 31/05/2024 3 ngày."


def test_the_office_sets_the_deadline_and_threshold(entry_db):
    import datetime as dt

    o = desk_for(entry_db, OFFICE)
    o.set_cycle(OFFICE, YEAR, dt.date(2024, 6, 15), 2.5)
    assert o.cycle(YEAR) == (dt.date(2024, 6, 15), 2.5)
    with pytest.raises(asm.AssessmentError, match="Ngưỡng chênh lệch"):
        o.set_cycle(OFFICE, YEAR, dt.date(2024, 6, 15), 0)
    with pytest.raises(asm.AssessmentError, match="^Tài khoản Hiệu trưởng không được"):
        o.set_cycle(HT_TH, YEAR, dt.date(2024, 6, 15), 3)


def test_an_import_may_not_change_published_results(con):
    """The sample published 2022-2023: criterion rows of that year are refused, 2023-2024's pass."""
    from kpi.imports import importer

    rows = [("TH001", PREV, "DH4", 5.0), ("TH001", YEAR, "DH4", 5.0), ("THCS001", PREV, "DH1", None)]
    assert importer.published_keys(con, rows) == [("TH001", PREV, f"CB-{PREV}-01"), ("THCS001", PREV, f"CB-{PREV}-01")]
    assert importer.published_keys(con, rows[1:2]) == []


HOW = [  # (criterion, what the sentence says)
    ("DH1", "Điều kiện bắt buộc, không có điểm: chưa đạt thì nhóm bị giới hạn ở Mức 1."),
    ("DH3.1", "Thuộc DH3 · Phần mềm dạy học trực tuyến. Trường tự chấm từ 0 đến 6 điểm (bước 0,5) theo minh chứng."),
    ("DH4", "Tính từ số liệu: 10 × "),
    ("DH7.2", "Thuộc DH7 · Hạ tầng, thiết bị. Tính từ số liệu: 7 điểm khi '"),
]


@pytest.mark.parametrize("code, start", HOW)
def test_how_a_criterion_is_scored_in_words(code, start):
    from kpi.catalog.model import default_catalog

    cat = default_catalog()
    assert asm.how_scored(cat.criteria[code], cat).startswith(start)


def test_a_store_at_version_4_without_the_assessment_tables_gains_them(tmp_path):
    """A store made while version 3's tables were only reserved (user_version already 4) gets them."""
    import sqlite3

    path = tmp_path / "v4.state.sqlite"
    con = sqlite3.connect(path)
    con.executescript("CREATE TABLE audit (audit_id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, "
                      "user_name TEXT, action TEXT NOT NULL, detail TEXT, client TEXT); PRAGMA user_version = 4;")
    con.close()
    s = state.Store(path)
    assert s.read("SELECT count(*) FROM assessments") == [(0,)] and s.assessment_version() == 0


def test_reopen_detach_and_stale_decisions(entry_db):
    o, d = desk_for(entry_db, OFFICE), desk_for(entry_db, HT_TH)
    states = o.states(YEAR)
    approved = states[states["state"] == "da_duyet"]["school_id"].iloc[0]
    with pytest.raises(asm.AssessmentError, match="Cần ghi lý do mở lại"):
        o.reopen(OFFICE, approved, YEAR, "")
    a = o.reopen(OFFICE, approved, YEAR, "Sai điểm tiêu chí QT3.3")
    assert (a.state, a.reason) == ("tra_lai", "Sai điểm tiêu chí QT3.3")
    waiting = states[states["state"] == "da_nop"]["school_id"].iloc[0]
    stale = o.assessment(OFFICE, waiting, YEAR).version - 1
    with pytest.raises(asm.Conflict):
        o.approve(OFFICE, waiting, YEAR, stale)
    assert o.assessment(OFFICE, waiting, YEAR).state == "da_nop"
    eid = d.assessment(HT_TH, "TH001", YEAR).evidence[0].evidence_id
    with pytest.raises(asm.AssessmentError, match="không có quyền"):
        desk_for(entry_db, HT_THCS).detach(HT_THCS, eid)
    d.detach(HT_TH, eid)
    assert d.assessment(HT_TH, "TH001", YEAR).evidence == []
    with pytest.raises(asm.AssessmentError, match="Không tìm thấy tệp minh chứng"):
        o.evidence_file(OFFICE, eid)


@pytest.mark.parametrize("entry_db", ["sqlite"], indirect=True)  # about the exports, not the store: once
def test_exports_say_whether_the_year_is_published(entry_db):
    """The principal's PDF and the meeting pack name the publication once the year is published."""
    import shutil

    from kpi.exports.school_pdf import school_pdf
    from kpi.views.pack import build_pack

    o = desk_for(entry_db, OFFICE)
    states = o.states(YEAR)
    sid = states[states["state"] == "da_nop"]["school_id"].iloc[0]
    cat = o.catalog
    before = build_pack(views.views_for(entry_db), cat, Scope.everything(), YEAR, "CN")
    assert before.maturity_published == ""
    o.approve(OFFICE, sid, YEAR, o.assessment(OFFICE, sid, YEAR).version)
    pid = o.publish(OFFICE, YEAR)
    v = views.views_for(entry_db)
    assert build_pack(v, cat, Scope.everything(), YEAR, "CN").maturity_published == pid
    if shutil.which("pdftotext"):
        from kpi.tools.export_images import pdf_text

        text = " ".join(pdf_text(school_pdf(v, cat, Scope.school(sid), sid, YEAR, "CN")).split())
        assert f"Kết quả đã công bố: lần công bố {pid}" in text and "(đã công bố)" in text
        other = states[states["state"] == "nhap"]["school_id"].iloc[0]
        text = " ".join(pdf_text(school_pdf(v, cat, Scope.school(other), other, YEAR, "CN")).split())
        assert "chưa gồm trường này" in text and "(tạm tính)" in text


def test_the_suggestions_of_another_school_are_out_of_a_principals_reach(sample_db, con):
    """The figures behind a suggestion are read in the caller's scope: a principal naming another
    school gets nothing; the office (and the principal for the own school) get the figures."""
    from kpi.catalog.model import default_catalog

    cat = default_catalog()
    assert queries.assessment_figures(con, cat, Scope.school("TH001"), "TH002", YEAR).empty
    theirs = queries.assessment_figures(con, cat, Scope.everything(), "TH002", YEAR)
    assert {"mon_hoc", "gv_tong"} <= set(theirs["field_code"])  # planted: the same call by the office reads them
    v = views.views_for(sample_db)
    assert v.suggestions(Scope.school("TH001"), "TH002", YEAR) == ({}, {})
    points, used = v.suggestions(Scope.school("TH001"), "TH001", YEAR)
    assert "DH4" in points and "Tổng số giáo viên" in used["DH6.1"]
