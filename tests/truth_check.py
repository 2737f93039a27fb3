"""Read the outputs back and recompute what they must state (tests/test_one_truth.py, issue 25).

Written out here, not imported from kpi, so a mistake in the writers cannot hide itself: the
truth is this module's own SQL (pooled values: sum of numerators / sum of denominators, a school
that did not report is missing; the catalog's targets; each school's first arrival, a file the
Phòng imported or the school's first submission in the app read straight from the state store),
the files are read as a person reads them (XLSX by openpyxl, PDFs by poppler's pdftotext), and
each comparison returns the list of what differs.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
import sqlite3
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import openpyxl

from kpi.store import state

YEAR, RND, PREV = "2023-2024", "CN", ("2023-2024", "HK1")
STATUS_WORDS = {"dat": "Đạt", "gan_dat": "Gần đạt", "chua_dat": "Chưa đạt", "khong_chi_tieu": "Chưa có chỉ tiêu",
                "thieu_so_lieu": "Chưa có số liệu"}
TIMELINESS_WORDS = {"dung_han": "Đúng hạn", "tre": "Trễ hạn", "chua_nop": "Chưa nộp"}
LEVEL_WORDS = {"MN": "Mầm non", "TH": "Tiểu học", "THCS": "Trung học cơ sở", "GDTX": "GDTX"}
VN = dt.timedelta(hours=7)  # the state store keeps seconds since the epoch; the office reads Vietnamese time
EPS = 1e-9
PCT_TOL = 0.05 + 1e-6  # a share written with one decimal of a percent


# ---- the truth: this test's own SQL ---------------------------------------------------------------

WIDE = """
SELECT s.school_id, s.level,
       max(o.value) FILTER (WHERE o.field_code = $num) AS num,
       max(o.value) FILTER (WHERE o.field_code = $den) AS den
FROM schools s
LEFT JOIN observations o ON o.school_id = s.school_id AND o.school_year = $y AND o.round = $r
WHERE s.active AND list_contains($levels, s.level)
GROUP BY s.school_id, s.level
"""

EXPECTED_SCHOOLS = """
SELECT s.school_id, p.deadline, b.received_at
FROM schools s
JOIN periods p ON p.school_year = $y AND p.round = $r
LEFT JOIN school_dates d ON d.school_id = s.school_id
LEFT JOIN submissions b ON b.school_id = s.school_id AND b.school_year = $y AND b.round = $r
WHERE (s.active OR d.closed_on IS NOT NULL)
  AND (d.opened_on IS NULL OR d.opened_on <= p.deadline) AND (d.closed_on IS NULL OR d.closed_on > p.deadline)
"""


@dataclass
class Line:
    """What a district line of the pack must state."""

    value: float | None
    target: float | None
    status: str
    gap: int | None
    change: float | None
    reporting: int
    expected: int
    meeting: int


@dataclass
class Truth:
    lines: dict = field(default_factory=dict)       # (clause, label, level) → Line
    order: list = field(default_factory=list)       # the keys in the page's order
    arrival: dict = field(default_factory=dict)     # school id → (status, date or None, days late or None)
    school: dict = field(default_factory=dict)      # (school id, indicator code) → (value, target, status)
    peers: dict = field(default_factory=dict)       # (level, indicator code) → pooled value of the level
    titles: dict = field(default_factory=dict)      # key → the chart's title, where it is not "clause · label"


def _pool(con, ind, levels, year, rnd):
    rows = con.execute(WIDE, {"num": ind.numerator, "den": ind.denominator or "", "y": year, "r": rnd,
                              "levels": list(levels)}).fetchall()
    own, num, den = {}, 0.0, 0.0
    for sid, level, n, d in rows:
        if ind.kind == "bool":
            d = None if n is None else 1.0
        if n is None or d is None or d <= 0:
            continue  # did not report: missing, never a zero
        own[sid] = (level, n, d)
        num, den = num + n, den + d
    return len(rows), own, num, den


def _status(v, target, near):
    if target is None:
        return "khong_chi_tieu"
    if v is None:
        return "thieu_so_lieu"
    return "dat" if v >= target - EPS else "gan_dat" if v >= near - EPS else "chua_dat"


def recompute(path: Path, vm_rows, catalog) -> Truth:
    """Every district line (keys from the page's view model: which lines exist is its decision, what
    they say is checked here), every school's arrival, every school value and level value."""
    import duckdb

    truth = Truth()
    con = duckdb.connect(str(path), read_only=True)
    try:
        for row in vm_rows.to_dict("records"):
            ind = catalog.indicators.get(row["indicator_code"])
            if ind is None:  # the maturity index's line (II.2): its scores are recomputed in test_scoring*.py
                key = (row["clause"], row["label"], row["level"])
                nan = lambda x: None if x is None or x != x else x  # noqa: E731
                truth.lines[key] = Line(nan(row["value"]), nan(row["target"]), row["status"], nan(row["gap"]),
                                        nan(row["change"]), row["schools_reporting"], row["schools_expected"],
                                        row["schools_meeting"])
                truth.order.append(key)
                truth.titles[key] = f"Mức độ chuyển đổi số · năm học {YEAR}"
                continue
            levels = tuple(row["levels"])
            expected, own, num, den = _pool(con, ind, levels, YEAR, RND)
            _, _, pnum, pden = _pool(con, ind, levels, *PREV)
            value = num / den if own else None
            t = catalog.target_for(ind.code, levels[0], YEAR)
            target, near = (None, None) if t is None else (t.value, t.near)
            meeting = 0
            for lv, n, d in own.values():
                tl = catalog.target_for(ind.code, lv, YEAR)
                meeting += tl is not None and n / d >= tl.value - EPS
            gap = None if target is None or value is None else max(0, math.ceil(target * den - num - EPS))
            change = None if value is None or pden <= 0 else value - pnum / pden
            key = (ind.clause, ind.label_vi, row["level"])
            truth.lines[key] = Line(value, target, _status(value, target, near), gap, change, len(own), expected,
                                    meeting)
            truth.order.append(key)
        for ind in catalog.indicators.values():
            for level in ind.levels:
                _, own, num, den = _pool(con, ind, (level,), YEAR, RND)
                truth.peers[(level, ind.code)] = num / den if own else None
                t = catalog.target_for(ind.code, level, YEAR)
                for sid, (_, n, d) in own.items():
                    truth.school[(sid, ind.code)] = (n / d, None if t is None else t.value,
                                                     _status(n / d, None if t is None else t.value,
                                                             None if t is None else t.near))
        files = con.execute(EXPECTED_SCHOOLS, {"y": YEAR, "r": RND}).fetchall()
    finally:
        con.close()
    app = sqlite3.connect(state.state_path(path))
    try:
        first = dict(app.execute("SELECT school_id, first_submitted_at FROM entries WHERE school_year = ? "
                                 "AND round = ? AND first_submitted_at IS NOT NULL", (YEAR, RND)).fetchall())
    finally:
        app.close()
    for sid, deadline, received in files:
        times = [t for t in (received, first.get(sid)) if t is not None]
        times = [dt.datetime(1970, 1, 1) + dt.timedelta(seconds=t) + VN if isinstance(t, float) else t for t in times]
        if not times:
            truth.arrival[sid] = ("chua_nop", None, None)
            continue
        day = min(times).date()
        late = (day - deadline).days
        truth.arrival[sid] = ("dung_han", day, None) if late <= 0 else ("tre", day, late)
    return truth


# ---- reading the files back -----------------------------------------------------------------------

def pct(text: str) -> float:
    """'1.234,5%' → 1234.5 (percent points)."""
    return float(text.strip().rstrip("%").replace(".", "").replace(",", "."))


def number(text: str) -> int:
    return int(text.replace(".", ""))


def _header_rows(ws, first: str):
    rows = list(ws.iter_rows(values_only=True))
    at = next(i for i, r in enumerate(rows) if r and r[0] == first)
    head = rows[at]
    return [dict(zip(head, r)) for r in rows[at + 1:] if any(c is not None for c in r)]


def read_xlsx(data: bytes) -> tuple[dict, dict]:
    """(district lines keyed (clause, label, level), school id → (status word, date, days late))."""
    wb = openpyxl.load_workbook(io.BytesIO(data))
    lines = {}
    for r in _header_rows(wb["Tổng hợp"], "Nhóm"):
        lines[(r["Mục"], r["Chỉ tiêu"], r["Cấp học"])] = r
    subs = {}
    for r in _header_rows(wb["Nộp báo cáo"], "Mã trường"):
        day = r["Ngày nộp"]
        subs[r["Mã trường"]] = (r["Tình trạng"], day.date() if isinstance(day, dt.datetime) else day, r["Trễ (ngày)"])
    return lines, subs


def pdf_text(data: bytes, layout: bool = True) -> str:
    return subprocess.run(["pdftotext"] + (["-layout"] if layout else []) + ["-", "-"], input=data,
                          capture_output=True, check=True).stdout.decode("utf-8")


CAPTION = re.compile(r"^(?P<who>Toàn đơn vị|Mầm non|Tiểu học|Trung học cơ sở|GDTX) (?P<value>[\d.,]+%|—) · "
                     r"(?P<target>chỉ tiêu [\d.,]+%|chưa có chỉ tiêu)(?: trường)? · [✔◐✖]? ?(?P<status>[^·]+?) · "
                     r"(?P<gap>[^·]+) · (?P<change>[^·]+) · (?P<x>[\d.]+)/(?P<y>[\d.]+) trường đã báo cáo$")
HEADING = re.compile(r"^(?P<clause>[IVX]+\.\d+[a-z]?) · (?P<label>.+)$")
SUMMARY_ROW = re.compile(r"^(?P<clause>[IVX]+\.\d+[a-z]?)\s.*?\s(?P<value>[\d.,]+%|—)\s+(?P<target>[\d.,]+%|—)\s+"
                         r"[✔◐✖]? ?(?P<status>Đạt|Gần đạt|Chưa đạt|Chưa có chỉ tiêu)\s{2,}(?:(?P<gap>\S.*?)\s{2,})?"
                         r"(?P<change>(?:tăng|giảm) [\d.,]+ điểm %|không đổi|chưa có kỳ trước)\s+"
                         r"(?P<x>[\d.]+)/(?P<y>[\d.]+)$")
SUB_ROW = re.compile(r"^(?P<id>[A-Z]+\d{3})\s.*?\s(?:MN|TH|THCS|GDTX)\s+(?P<status>Đúng hạn|Trễ hạn|Chưa nộp)"
                     r"(?:\s+(?P<day>\d\d/\d\d/\d{4}))?(?:\s+(?P<late>\d+))?")
COUNT_ROW = re.compile(r"^(?P<what>Đúng hạn|Trễ hạn|Chưa nộp|Tổng số trường)\s+(?P<n>\d+)$")


def read_pack_pdf(data: bytes) -> dict:
    """Every statement of the pack's PDF: the chart captions (keyed (clause, label, level words)),
    the summary table's rows in order, the timeliness counts and each school's row."""
    text = pdf_text(data)
    out = {"captions": {}, "summary": [], "counts": {}, "schools": {}}
    block, section = [], None
    for raw in text.splitlines():
        line = raw.strip()
        if "· trang " in line:  # the stamp closing each page
            block = []
        elif line in ("Tổng hợp các chỉ tiêu", "Tình hình nộp báo cáo", "Các trường còn xa chỉ tiêu nhất"):
            section, block = line, []
        elif m := CAPTION.match(line):  # under its chart's title (one or more lines)
            title = " ".join(block)
            h = HEADING.match(title)
            out["captions"][(h["clause"], h["label"], m["who"]) if h else (title, m["who"])] = m.groupdict()
        elif m := SUMMARY_ROW.match(line):
            out["summary"].append(m.groupdict())
        elif section == "Tình hình nộp báo cáo" and (m := COUNT_ROW.match(line)):
            out["counts"][m["what"]] = int(m["n"])
        elif section == "Tình hình nộp báo cáo" and (m := SUB_ROW.match(line)):
            out["schools"][m["id"]] = m.groupdict()
        elif line:
            block.append(line)
    return out


def _words(data: bytes) -> list[tuple[int, float, float, str]]:
    """(page, top, left, word) of every word, as poppler places them."""
    tsv = subprocess.run(["pdftotext", "-tsv", "-", "-"], input=data, capture_output=True, check=True).stdout
    out = []
    for line in tsv.decode("utf-8").splitlines()[1:]:
        f = line.split("\t")
        if f[0] == "5" and not f[11].startswith("###"):
            out.append((int(f[1]), float(f[7]), float(f[6]), f[11]))
    return out


def _cells(words: list[tuple], gap: float = 15.0) -> list[tuple[float, str]]:
    """Words of one column → its cells as (vertical centre, text): lines closer than `gap` belong
    to one cell (a wrapped text), farther ones to the next."""
    lines: dict[float, list] = {}
    for w in words:
        top = next((t for t in lines if abs(t - w[1]) < 1), w[1])
        lines.setdefault(top, []).append(w)
    cells, current = [], []
    for top in sorted(lines):
        if current and top - current[-1] >= gap:
            cells.append(current)
            current = []
        current.append(top)
    cells += [current] if current else []
    return [((c[0] + c[-1]) / 2, " ".join(w[3] for t in c for w in sorted(lines[t], key=lambda w: w[2])))
            for c in cells]


def read_school_pdf(data: bytes) -> dict:
    """The school PDF: its text, and each row of its table as its five cells (heading, value,
    target, status, what it says of the district). The cells are centred in their row: each is
    given to the row whose status (one line in every row) sits at its centre."""
    words = _words(data)
    rows: list[list[str]] = []
    starts = None
    for page in sorted({w[0] for w in words}):
        ws = [w for w in words if w[0] == page]
        stamp = {w[1] for w in ws if w[3] in ("lúc", "trang")}
        ws = [w for w in ws if not any(abs(w[1] - t) < 1 for t in stamp)]
        top = -math.inf
        head = next((w for w in sorted(ws) if w[3] == "Giá"), None)
        if head is not None:
            line = sorted((w for w in ws if abs(w[1] - head[1]) < 1 and w[3] in ("Chỉ", "Giá", "Tình", "So")),
                          key=lambda w: w[2])
            starts, top = [line[0][2]] + [w[2] for w in line[1:] if w[3] != "Chỉ" or w[2] > head[2]], head[1] + 5
        if starts is None:
            continue
        end = min([w[1] for w in ws if w[3] == "Mức" and w[2] < starts[0] + 2 and w[1] > top
                   and any(abs(x[1] - w[1]) < 1 and x[3] == "độ" for x in ws)] + [math.inf])
        body = [w for w in ws if top < w[1] < end]
        columns = [[w for w in body if max(i for i, x in enumerate(starts) if w[2] >= x - 1) == c]
                   for c in range(len(starts))]
        centres = [c for c, _ in _cells(columns[3], gap=1)]
        page_rows = [["" for _ in starts] for _ in centres]
        for c, col in enumerate(columns):
            for centre, text in _cells(col):
                if centres:
                    i = min(range(len(centres)), key=lambda i: abs(centres[i] - centre))
                    page_rows[i][c] = (page_rows[i][c] + " " + text).strip()
        rows += page_rows
    return {"text": re.sub(r"\s+", " ", pdf_text(data, layout=False)), "rows": rows}


# ---- comparing ------------------------------------------------------------------------------------

def _near_pct(text: str, share: float | None) -> bool:
    if share is None:
        return text.strip() in ("—", "")
    return abs(pct(text) - share * 100) <= PCT_TOL


def _change_ok(text: str, change: float | None) -> bool:
    if change is None:
        return text.startswith("chưa có kỳ trước")
    if text.startswith("không đổi"):
        return abs(change * 100) < PCT_TOL
    m = re.match(r"(tăng|giảm) ([\d.,]+) điểm %", text)
    return bool(m) and (m[1] == "tăng") == (change > 0) and abs(pct(m[2]) - abs(change) * 100) <= PCT_TOL


def _gap_ok(text: str | None, line: Line) -> bool:
    if text is None:  # the summary cell wrapped away from its row: the caption states it
        return True
    if line.status == "dat":
        return text == "đã đạt chỉ tiêu"
    m = re.match(r"còn (?:thiếu )?([\d.]+) ", text + " ")
    return bool(m) and number(m[1]) == line.gap


def _same(got, want) -> bool:
    got_missing = got is None or (isinstance(got, float) and math.isnan(got))
    if got_missing or want is None:
        return got_missing == (want is None)
    if isinstance(want, float):
        return abs(float(got) - want) < 1e-9
    return got == want


def compare_vm(truth: Truth, vm_rows, status) -> list[str]:
    """The live page's view model against the SQL."""
    bad = []
    for row, key in zip(vm_rows.to_dict("records"), truth.order):
        t = truth.lines[key]
        got = (row["value"], row["target"], row["status"], row["gap"], row["change"], row["schools_reporting"],
               row["schools_expected"], row["schools_meeting"])
        want = (t.value, t.target, t.status, t.gap, t.change, t.reporting, t.expected, t.meeting)
        for name, g, w in zip(("value", "target", "status", "gap", "change", "reporting", "expected", "meeting"),
                              got, want):
            if not _same(g, w):
                bad.append(f"trang · {key}: {name} {g!r} ≠ SQL {w!r}")
    for r in status.to_dict("records"):
        want = truth.arrival.get(r["school_id"])
        day = None if r["received_at"] is None or r["received_at"] != r["received_at"] else r["received_at"].date()
        if want is None or (r["status"], day) != want[:2]:
            bad.append(f"trang · nộp báo cáo {r['school_id']}: {r['status']} {day} ≠ SQL {want}")
    if len(status) != len(truth.arrival):
        bad.append(f"trang · {len(status)} trường phải nộp ≠ SQL {len(truth.arrival)}")
    return bad


def compare_xlsx(name: str, data: bytes, truth: Truth) -> list[str]:
    lines, subs = read_xlsx(data)
    bad = [f"{name} · thiếu dòng {k}" for k in truth.order if k not in lines]
    for key, r in lines.items():
        t = truth.lines.get(key)
        if t is None:
            bad.append(f"{name} · dòng lạ {key}")
            continue
        change = r["Thay đổi so với kỳ trước (điểm %)"]
        checks = {
            "giá trị": _same(r["Giá trị"], t.value),
            "chỉ tiêu": _same(r["Chỉ tiêu đặt ra"], t.target),
            "tình trạng": r["Tình trạng"].split(" ", 1)[-1] == STATUS_WORDS[t.status],
            "còn thiếu": r["Còn thiếu"] is None if t.status in ("dat", "khong_chi_tieu") else r["Còn thiếu"] == t.gap,
            "thay đổi": _same(None if change is None else change / 100, t.change),
            "trường": (r["Trường đạt"], r["Trường đã báo cáo"], r["Trường phải báo cáo"])
                      == (t.meeting, t.reporting, t.expected),
        }
        bad += [f"{name} · {key}: {what} sai ({r})" for what, ok in checks.items() if not ok]
    bad += _compare_arrivals(name, subs, truth)
    return bad


def _compare_arrivals(name: str, stated: dict, truth: Truth) -> list[str]:
    bad = []
    if set(stated) != set(truth.arrival):
        bad.append(f"{name} · trường phải nộp: {sorted(set(stated) ^ set(truth.arrival))}")
    for sid, (word, day, late) in stated.items():
        want = truth.arrival.get(sid)
        if want is None:
            continue
        status, wday, wlate = want
        if (word, day, late or None) != (TIMELINESS_WORDS[status], wday, wlate):
            bad.append(f"{name} · nộp báo cáo {sid}: {word} {day} {late} ≠ SQL {want}")
    return bad


def compare_pack_pdf(name: str, data: bytes, truth: Truth, order: list) -> list[str]:
    """`order`: the keys of the pack's lines in the order its summary lists them (the pack's choice)."""
    got = read_pack_pdf(data)
    bad = []
    captions = {}
    for key, m in got["captions"].items():
        who = key[-1]
        level = "Tất cả" if who == "Toàn đơn vị" else next(k for k, v in LEVEL_WORDS.items() if v == who)
        captions[(*key[:-1], level)] = m
    for key in truth.order:
        # the maturity index's chart is titled by the index, not by its clause
        m = captions.get(key) or next((c for k, c in captions.items() if key in truth.titles and len(k) == 2
                                       and k[0].startswith(truth.titles[key]) and k[1] == key[2]), None)
        if m is None:
            bad.append(f"{name} · thiếu câu của biểu đồ {key}")
            continue
        t = truth.lines[key]
        target_ok = m["target"] == "chưa có chỉ tiêu" if t.target is None else _near_pct(m["target"][9:], t.target)
        checks = {"giá trị": _near_pct(m["value"], t.value), "chỉ tiêu": target_ok,
                  "tình trạng": m["status"].strip() == STATUS_WORDS[t.status], "còn thiếu": _gap_ok(m["gap"], t),
                  "thay đổi": _change_ok(m["change"], t.change),
                  "x/y": (number(m["x"]), number(m["y"])) == (t.reporting, t.expected)}
        bad += [f"{name} · biểu đồ {key}: {what} sai ({m})" for what, ok in checks.items() if not ok]
    if sorted(order) != sorted(truth.order) or len(got["summary"]) != len(order):
        bad.append(f"{name} · bảng tổng hợp có {len(got['summary'])} dòng ≠ {len(truth.order)}")
    for m, key in zip(got["summary"], order):
        t = truth.lines[key]
        checks = {"mục": m["clause"] == key[0], "giá trị": _near_pct(m["value"], t.value),
                  "chỉ tiêu": _near_pct(m["target"], t.target), "tình trạng": m["status"] == STATUS_WORDS[t.status],
                  "còn thiếu": _gap_ok(m["gap"], t), "thay đổi": _change_ok(m["change"], t.change),
                  "x/y": (number(m["x"]), number(m["y"])) == (t.reporting, t.expected)}
        bad += [f"{name} · tổng hợp {key}: {what} sai ({m})" for what, ok in checks.items() if not ok]
    counts = {w: sum(1 for s, _, _ in truth.arrival.values() if s == k) for k, w in TIMELINESS_WORDS.items()}
    counts["Tổng số trường"] = len(truth.arrival)
    if got["counts"] != counts:
        bad.append(f"{name} · số trường đúng hạn / trễ / chưa nộp {got['counts']} ≠ SQL {counts}")
    stated = {sid: (m["status"], None if m["day"] is None else dt.datetime.strptime(m["day"], "%d/%m/%Y").date(),
                    None if m["late"] is None else int(m["late"])) for sid, m in got["schools"].items()}
    return bad + _compare_arrivals(name, stated, truth)


def compare_school_pdf(data: bytes, school_id: str, level: str, card, truth: Truth) -> list[str]:
    """The school PDF's timeliness sentence, and per row its value, target, status and the value of
    the district it names (the school's cấp học: 'Toàn đơn vị · THCS')."""
    got = read_school_pdf(data)
    bad = []
    status, day, late = truth.arrival[school_id]
    when = "" if day is None else day.strftime("%d/%m/%Y")
    said = {"dung_han": f"Đã nộp đúng hạn ngày {when}", "tre": f"Nộp trễ {late} ngày: ngày {when}",
            "chua_nop": "Chưa nộp báo cáo kỳ này"}[status]
    if said.lower() not in got["text"].lower():
        bad.append(f"phiếu trường {school_id}: không nói «{said}»")
    codes = {c.heading: c.code for c in card.cards}
    if len(got["rows"]) != (len(card.cards) if card.has_data else 0):
        bad.append(f"phiếu trường {school_id}: {len(got['rows'])} dòng ≠ {len(card.cards)} chỉ tiêu")
    for heading, value, target, st, peers in got["rows"]:
        code = codes.get(heading)
        if code is None:
            bad.append(f"phiếu trường {school_id}: dòng lạ {heading!r}")
            continue
        own = truth.school.get((school_id, code))
        if own is None:
            ok = value == "Chưa có số liệu"
        elif value in ("Có", "Chưa"):
            ok = (value == "Có") == (own[0] >= 1)
        else:
            ok = _near_pct(value, own[0])
        if not ok:
            bad.append(f"phiếu trường {school_id} · {heading}: giá trị {value} ≠ SQL {own}")
        if own is not None and st.split(" ", 1)[-1] != STATUS_WORDS[own[2]]:
            bad.append(f"phiếu trường {school_id} · {heading}: tình trạng {st} ≠ SQL {own[2]}")
        m = re.match(rf"Toàn đơn vị · {level}:? ([\d.,]+%)", peers)
        if m is None:
            if peers.startswith("Toàn đơn vị"):
                bad.append(f"phiếu trường {school_id} · {heading}: «{peers}» không nói giá trị của cấp học nào")
            continue
        if not _near_pct(m[1], truth.peers.get((level, code))):
            bad.append(f"phiếu trường {school_id} · {heading}: {peers} ≠ SQL {truth.peers.get((level, code))}")
    return bad
