"""A deterministic sample office ("Dữ liệu mẫu"): invented schools, realistic sizes and spreads.

`build_sample(path, schools=53, years=3, seed=7)` writes a District-3-like office: MN, TH, THCS
and one GDTX centre, public and private, school years ending with 2023-2024, rounds HK1 and CN,
with the awkward cases a real office has (schools that did not submit, late submissions, fields
left blank, a school at exactly 50 and one at exactly 75 maturity points, an unmet mandatory
condition). The same generator builds the national-scale database for benchmarks
(``--schools 53000 --years 5``): everything is vectorised per period with numpy.

At district size the sample also fills the state store beside the file with the schools' own
entries (kpi.workflows.entry) so that the entry and review pages are not empty on first start: in the
latest period a few schools in each workflow state (drafts, submitted, some with a soft check
explained, returned with a reason, approved) and the period before it locked. Schools whose
entry is not approved have no figures of the latest period in the analytics file (only approved
figures count), except the demo principals' schools, whose entries correct figures the Phòng
had imported. It also fills the yearly maturity assessment (kpi.workflows.assessment): the school year
before the latest published (a publication frozen in the analytics file, of the entries as they
are), and in the latest year schools in every state (not started, draft with an evidence file,
submitted, returned with a criterion to redo, approved). Everything is labelled "Dữ liệu mẫu".

`as_of=<a day>` builds a sample that lives on that day (kpi.tools.sample_clock): its newest school year
is that day's, with only the periods opened before it; the latest one is open while its deadline is ahead,
with the schools that have sent so far (the others simply have not yet), and no moment written lies on or
after that day. Without it the sample is the fixed one ending with 2023-2024.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from kpi.admin import auth
from kpi.catalog.model import Catalog, default_catalog
from kpi.domain import checks
from kpi.store import db, derived, state
from kpi.tools.sample_clock import Clock, opens
from kpi.workflows import assessment, publication
from kpi.workflows.record import VN

SAMPLE_UNIT = "Phòng GDĐT Quận 3 (Dữ liệu mẫu)"
LAST_YEAR_START = 2023  # the sample ends with school year 2023-2024

# Invented names (nature words), never a real school's name on purpose; "Hoa Sen" is searched
# for in the tests.
NAMES = (
    "Hoa Sen", "Hoa Mai", "Hoa Lan", "Hoa Cúc", "Sao Mai", "Bình Minh", "Ánh Dương", "Cầu Vồng",
    "Tuổi Thơ", "Sơn Ca", "Họa Mi", "Vành Khuyên", "Hướng Dương", "Thiên Thanh", "Trúc Xanh",
    "Bạch Dương", "Phượng Vĩ", "Ngọc Lan", "Thủy Tiên", "Cẩm Tú", "Mây Hồng", "Lá Xanh",
    "Nắng Mai", "Thảo Nguyên", "Bồ Câu", "Chim Non", "Hoàng Anh", "Tre Xanh", "Sen Hồng",
    "Mai Vàng", "Rạng Đông", "Hừng Đông", "Ban Mai", "Biển Xanh", "Sông Xanh", "Đồi Thông",
    "Cánh Diều", "Thiên Nga", "Hải Âu", "Trăng Non", "Ngôi Sao", "Ước Mơ", "Hạt Nắng",
    "Mầm Xanh", "Lộc Vừng", "Hoa Gạo", "Cỏ Non", "Bằng Lăng", "Sương Mai", "Hoa Sữa",
    "Tường Vi", "Thạch Thảo", "Oải Hương", "Linh Lan", "Dã Quỳ", "Hoa Ban", "Sao Khuê",
    "Đông Phương", "Vạn Xuân", "An Khang",
)
PREFIX = {"MN": "Trường Mầm non", "TH": "Trường Tiểu học", "THCS": "Trường THCS",
          "GDTX": "Trung tâm GDNN-GDTX"}
WARDS = tuple(f"Phường {i}" for i in (1, 2, 3, 4, 5, 9, 10, 11, 12, 13, 14)) + ("Phường Võ Thị Sáu",)

# District mix (per 53 schools): MN 15 public + 6 private, TH 16 + 2, THCS 10 + 3, GDTX 1.
_MIX = (("MN", "cong_lap", 15), ("MN", "ngoai_cong_lap", 6), ("TH", "cong_lap", 16),
        ("TH", "ngoai_cong_lap", 2), ("THCS", "cong_lap", 10), ("THCS", "ngoai_cong_lap", 3),
        ("GDTX", "cong_lap", 1))

# Ratio fields: numerator share of denominator = lo + (hi - lo) * progress (+ noise), clipped.
RATIO_FIELDS = (
    ("hs_khoi345_hoc_tin", "hs_khoi345", 0.80, 1.06),
    ("hs_tin_quoc_te", "hs_tong", 0.10, 0.60),
    ("hs_chung_chi_tin", "hs_tong", 0.02, 0.30),
    ("gv_tin_chuan_qt", "gv_tin", 0.30, 1.10),
    ("tiet_truc_tuyen", "tiet_chuong_trinh", 0.05, 0.24),
    ("cbql_gv_chu_ky_so", "cbql_gv_tong", 0.55, 1.10),
    ("cbql_gv_vneid2", "cbql_gv_tong", 0.30, 1.10),
    ("hs_co_dinh_danh", "hs_tong", 0.85, 1.05),
    ("gv_co_dinh_danh", "gv_tong", 0.90, 1.05),
    ("hs_vssid", "hs_tong", 0.30, 0.95),
    ("giao_dich_khong_tien_mat", "giao_dich_thu", 0.40, 1.00),
    ("van_ban_di_ky_so", "van_ban_di", 0.70, 1.05),
    ("mon_co_hoc_lieu_so", "mon_hoc", 0.30, 1.00),
    ("gv_boi_duong_ky_nang_so", "gv_tong", 0.50, 1.05),
    ("gv_tai_khoan_bdtx", "gv_tong", 0.60, 1.05),
    ("phong_hoc_trinh_chieu", "phong_hoc", 0.50, 1.05),
)
# Yes/no fields: "có" when progress + a school's own offset exceeds the threshold.
BOOL_FIELDS = {
    "co_lms": 0.20, "lms_lop5": 0.30, "day_hoc_ket_hop_lms": 0.35, "lms_lien_thong_sis": 0.50,
    "danh_gia_truc_tuyen": 0.40, "thu_vien_dien_tu": 0.45, "phong_may_muc2": 0.40,
    "thu_phi_khong_tien_mat": 0.20, "ket_noi_tai_chinh": 0.50, "he_thong_qtcl": 0.30,
    "so_diem_dien_tu": 0.15, "hoc_ba_so": 0.45, "tuyen_sinh_truc_tuyen": 0.10,
    "email_ten_mien_gd": 0.15, "cong_ttdt_cap_nhat": 0.30, "ket_noi_phu_huynh": 0.20,
    "bao_cao_thong_ke_dung_han": 0.25,
}
_NAME_OFFSET = {"MN": 0, "TH": 21, "THCS": 40, "GDTX": 55}  # distinct names across levels
_PUPILS = {"MN": (250, 450), "TH": (700, 1300), "THCS": (900, 1600), "GDTX": (300, 600)}
_PUPILS_PER_TEACHER = {"MN": 12, "TH": 24, "THCS": 19, "GDTX": 22}
_PUPILS_PER_ROOM = {"MN": 25, "TH": 35, "THCS": 40, "GDTX": 35}
_SUBJECTS = {"TH": 11, "THCS": 14, "GDTX": 10}

# Maturity self-assessments that land exactly on the band edges (DH leaf points).
EXACT_DH = {
    50.0: {"DH3.1": 6, "DH3.3": 6, "DH3.4": 6, "DH4": 5, "DH5.1": 7.5, "DH6.1": 7, "DH6.2": 3.5,
           "DH6.3": 2, "DH7.1": 4, "DH7.2": 3},
    75.0: {"DH3.1": 6, "DH3.3": 6, "DH3.4": 6, "DH3.5": 6, "DH4": 7.5, "DH5.1": 10, "DH5.2": 5,
           "DH6.1": 7, "DH6.2": 5, "DH6.3": 3.5, "DH7.1": 8, "DH7.2": 5},
}


@dataclass(frozen=True)
class SampleSummary:
    """What `build_sample` wrote."""

    schools: int
    periods: int
    observations: int
    submissions: int
    criterion_scores: int


def school_years(years: int, last_start: int = LAST_YEAR_START) -> list[str]:
    """The sample's school years, oldest first, ending with the one starting in `last_start` (2023-2024)."""
    return [f"{y}-{y + 1}" for y in range(last_start - years + 1, last_start + 1)]


def _schools(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    total = sum(k for *_, k in _MIX)
    counts = [max(1, round(k * n / total)) if lv != "GDTX" else max(1, round(n / total)) for lv, _, k in _MIX]
    counts[0] += n - sum(counts)  # the remainder goes to public preschools
    level = np.concatenate([np.full(c, lv, dtype=object) for (lv, _, _), c in zip(_MIX, counts)])
    owner = np.concatenate([np.full(c, ow, dtype=object) for (_, ow, _), c in zip(_MIX, counts)])
    width = max(3, len(str(n)))
    ids, names = [], []
    seq: dict[str, int] = {}
    for i, (lv, ow) in enumerate(zip(level, owner)):
        k = seq.get(lv, 0)
        seq[lv] = k + 1
        ids.append(f"{lv}{k + 1:0{width}d}")
        base = NAMES[(k + _NAME_OFFSET[lv]) % len(NAMES)]
        suffix = "" if k < len(NAMES) else f" {k // len(NAMES) + 1}"
        private = " tư thục" if ow == "ngoai_cong_lap" and lv != "GDTX" else ""
        names.append(f"{PREFIX[lv]}{private} {base}{suffix}")
    if n <= 200:
        wards = np.array([WARDS[i % len(WARDS)] for i in rng.permutation(n)], dtype=object)
        units = np.full(n, "PGD_Q3", dtype=object)
    else:
        per_unit = 75
        units = np.array([f"PGD{i // per_unit:04d}" for i in range(n)], dtype=object)
        wards = np.array([f"Phường {(i // 7) % 20 + 1}" for i in range(n)], dtype=object)
    return {"school_id": np.array(ids, dtype=object), "name": np.array(names, dtype=object),
            "level": level, "ownership": owner, "ward": wards, "unit_id": units}


def _units(n: int) -> list[tuple[str, str, str, str | None]]:
    if n <= 200:
        return [("SGD79", "Sở GDĐT Thành phố Hồ Chí Minh", "so", None),
                ("PGD_Q3", SAMPLE_UNIT, "phong", "SGD79")]
    phongs = (n + 74) // 75
    rows = [(f"SGD{j:02d}", f"Sở GDĐT mẫu số {j + 1}", "so", None) for j in range((phongs + 9) // 10)]
    rows += [(f"PGD{i:04d}", f"Phòng GDĐT mẫu số {i + 1}", "phong", f"SGD{i // 10:02d}") for i in range(phongs)]
    return rows


def _round_half(x: np.ndarray) -> np.ndarray:
    return np.round(x * 2) / 2


def build_sample(path, schools: int = 53, years: int = 3, seed: int = 7,
                 catalog: Catalog | None = None, as_of: dt.date | None = None) -> SampleSummary:
    """Write a fresh sample database at `path` (replacing any file there); with `as_of`, the sample as it
    stands on that day (its school year the newest, nothing written on or after it)."""
    cat = catalog or default_catalog()
    clock = Clock(as_of) if as_of is not None else None
    rng = np.random.default_rng(seed)
    sch = _schools(schools, rng)
    n = len(sch["school_id"])
    level = sch["level"]
    private = sch["ownership"] == "ngoai_cong_lap"
    ability = rng.uniform(0.05, 0.75, n) - 0.08 * private
    growth = rng.uniform(0.05, 0.40, n)
    lo = np.array([_PUPILS[lv][0] for lv in level])
    hi = np.array([_PUPILS[lv][1] for lv in level])
    pupils0 = rng.uniform(lo, hi) * np.where(private, rng.uniform(0.3, 0.6, n), 1.0)
    offsets = {f: rng.normal(0, 0.12, n) for f in BOOL_FIELDS}
    field_levels = {code: set(f.levels) for code, f in cat.fields.items()}
    level_mask = {code: np.isin(level, list(lvs)) for code, lvs in field_levels.items()}

    yrs = school_years(years, clock.last_start if clock else LAST_YEAR_START)
    periods = [(y, r) for y in yrs for r in ("HK1", "CN") if clock is None or clock.started(y, r)]
    T = len(periods)
    last = periods[-1]
    missing_last = set(rng.choice(n, size=max(3, n // 15), replace=False).tolist()) if n >= 10 else set()
    plan: dict[int, str] = {}  # school index → workflow state of its entry in the latest period
    last_values: dict = {}
    sample_import = 1
    obs_total = sub_total = score_total = 0
    progress_cn: dict[str, np.ndarray] = {}

    with db.writing(path, fresh=True) as con:
        con.execute("INSERT INTO units VALUES " + ",".join(["(?, ?, ?, ?)"] * len(_units(n))),
                    [v for row in _units(n) for v in row])
        con.register("s_schools", pa.table({k: list(v) for k, v in sch.items()}))
        con.execute("INSERT INTO schools SELECT school_id, name, level, ownership, ward, unit_id, TRUE FROM s_schools")
        con.unregister("s_schools")
        for y, r in periods:
            end = int(y[5:])
            deadline = dt.date(end, 1, 10) if r == "HK1" else dt.date(end, 5, 20)
            con.execute("INSERT INTO periods VALUES (?, ?, ?)", [y, r, deadline])
        now = clock.now if clock else dt.datetime(LAST_YEAR_START + 1, 6, 1, 8, 0)
        con.execute(
            "INSERT INTO imports VALUES (?, 'du_lieu_mau', ?, ?, 'du-lieu-mau', ?, 'sample', ?, 0, 'applied')",
            [sample_import, now, now, f"seed={seed};schools={n};years={years}", n * T],
        )
        for t, (y, r) in enumerate(periods):
            yi = yrs.index(y)
            prog = np.clip(ability + growth * t / max(1, T - 1) + rng.normal(0, 0.03, n), 0, 1)
            if r == "CN" or y not in progress_cn:  # a year whose CN has not opened yet: its HK1
                progress_cn[y] = prog
            submitted = rng.random(n) > 0.06
            if (y, r) == last:
                submitted[list(missing_last)] = False
                if WORKFLOW_MIN <= n <= WORKFLOW_MAX:  # its own generator: every other sample value is unchanged
                    plan = _workflow_plan(sch, submitted, np.random.default_rng(seed + 1000))
                    submitted[[i for i, s in plan.items() if s in UNAPPROVED and i not in _demo(sch)]] = False
            if clock:  # its own generator too; only the files that had arrived by then
                arrive = clock.arrivals(n, y, r, np.random.default_rng([seed, t, 2000]))
                kept = [i for i, s in plan.items() if (y, r) == last and (s not in UNAPPROVED or i in _demo(sch))]
                early = max(opens(y, r), clock.before - dt.timedelta(days=3))  # not before the round opened
                arrive[kept] = [min(a, early) for a in arrive[kept]]
                submitted &= arrive < clock.before
            pupils = np.round(pupils0 * (1 + 0.02 * yi))
            teachers = np.maximum(3, np.round(pupils / np.array([_PUPILS_PER_TEACHER[lv] for lv in level])
                                               * rng.uniform(0.95, 1.05, n)))
            classes = np.maximum(1, np.round(pupils / 35))
            den = {
                "hs_tong": pupils,
                "gv_tong": teachers,
                "cbql_gv_tong": teachers + np.where(level == "MN", 3, 4),
                "phong_hoc": np.maximum(1, np.round(pupils / np.array([_PUPILS_PER_ROOM[lv] for lv in level]))),
                "hs_khoi345": np.round(pupils * 0.59),
                "gv_tin": np.maximum(1, np.round(pupils / np.where(level == "TH", 400, 300))),
                "tiet_chuong_trinh": classes * (540 if r == "HK1" else 1050),
                "mon_hoc": np.array([_SUBJECTS.get(lv, 0) for lv in level], dtype=float),
                "giao_dich_thu": np.round(pupils * (4 if r == "HK1" else 9) * rng.uniform(0.9, 1.1, n)),
                "van_ban_di": np.round(rng.uniform(60, 200, n) * (1 if r == "HK1" else 2)),
            }
            values = dict(den)
            for num, d, a, b in RATIO_FIELDS:
                share = np.clip(a + (b - a) * prog + rng.normal(0, 0.04, n), 0, 1)
                values[num] = np.round(den[d] * share)
            for f, thr in BOOL_FIELDS.items():
                values[f] = (prog + offsets[f] + rng.normal(0, 0.03, n) > thr).astype(float)
            if (y, r) == last:
                last_values = values
            ids, codes, vals = [], [], []
            for code in cat.fields:
                mask = level_mask[code] & submitted
                if not cat.fields[code].required:
                    mask &= rng.random(n) > 0.02  # a few fields left blank: missing, not zero
                idx = np.nonzero(mask)[0]
                ids.append(sch["school_id"][idx])
                codes.append(np.full(len(idx), code, dtype=object))
                vals.append(values[code][idx])
            ids_a = np.concatenate(ids)
            tbl = pa.table({
                "school_id": pa.array(ids_a, pa.string()),
                "school_year": pa.array(np.full(len(ids_a), y, dtype=object), pa.string()),
                "round": pa.array(np.full(len(ids_a), r, dtype=object), pa.string()),
                "field_code": pa.array(np.concatenate(codes), pa.string()),
                "value": pa.array(np.concatenate(vals), pa.float64()),
                "import_id": pa.array(np.full(len(ids_a), sample_import), pa.int64()),
            })
            con.register("s_obs", tbl)
            con.execute("INSERT INTO observations SELECT * FROM s_obs ORDER BY school_id, field_code")  # schema.sql
            con.unregister("s_obs")
            obs_total += tbl.num_rows
            end = int(y[5:])
            deadline = dt.datetime(end, 1, 10, 17) if r == "HK1" else dt.datetime(end, 5, 20, 17)
            late = rng.random(n) < 0.12
            days = np.where(late, rng.uniform(1, 25, n), -rng.uniform(0.2, 20, n))
            idx = np.nonzero(submitted)[0]
            received = [arrive[i] if clock else deadline + dt.timedelta(days=float(days[i])) for i in idx]
            sub = pa.table({
                "school_id": pa.array(sch["school_id"][idx], pa.string()),
                "school_year": pa.array([y] * len(idx), pa.string()),
                "round": pa.array([r] * len(idx), pa.string()),
                "received_at": pa.array(received, pa.timestamp("us")),
                "source": pa.array(["du-lieu-mau.xlsx"] * len(idx), pa.string()),
                "import_id": pa.array([sample_import] * len(idx), pa.int64()),
            })
            con.register("s_sub", sub)
            con.execute("INSERT INTO submissions SELECT * FROM s_sub")
            con.unregister("s_sub")
            sub_total += sub.num_rows
        score_total = _write_scores(con, cat, sch, progress_cn, yrs, rng, sample_import)
        _write_demo_users(con, now)
        entries = _entries(con, cat, sch, plan, last_values, last, periods, clock) if plan else None
        assessed = _assessments(con, cat, sch, yrs, clock) if plan else None
        derived.refresh_index(con, cat)
        for key, value in (("is_sample", "true"), ("unit_name", SAMPLE_UNIT), ("sample_seed", seed),
                           ("sample_schools", n), ("sample_years", years)):
            db.set_meta(con, key, str(value))
        if clock:
            db.set_meta(con, "sample_as_of", clock.as_of.isoformat())
    if entries is not None:
        _write_entries(path, entries)
    if assessed is not None:
        _write_assessments(path, assessed)
    return SampleSummary(n, T, obs_total, sub_total, score_total)


def _write_scores(con, cat: Catalog, sch, progress_cn, yrs, rng, import_id) -> int:
    """Self-assessed (and for some schools verified) maturity points, one row per criterion."""
    applies = np.isin(sch["level"], list(cat.index.levels_apply))
    idx = np.nonzero(applies)[0]
    leaves = [c for c in cat.criteria.values() if c.rule == "entered"]
    conditions = [c for c in cat.criteria.values() if c.rule == "condition"]
    ids = sch["school_id"]
    th = [i for i in idx if sch["level"][i] == "TH" and sch["ownership"][i] == "cong_lap"]
    thcs = [i for i in idx if sch["level"][i] == "THCS" and sch["ownership"][i] == "cong_lap"]
    exact = {th[0]: 50.0, thcs[0]: 75.0} if th and thcs else {}
    unmet = th[1] if len(th) > 1 else None
    rows = []
    for y in yrs:
        prog = progress_cn[y]
        verify = rng.random(len(ids)) < (0.35 if y == yrs[-1] else 0.2)
        for i in idx:
            edge = exact.get(i) if y == yrs[-1] else None
            for c in leaves:
                if edge is not None:
                    pts = float(EXACT_DH[edge].get(c.code, 0)) if c.group_code == "DH" else None
                    if pts is None:
                        pts = float(_round_half(np.array([c.max_points * min(1.0, prog[i] + 0.1)]))[0])
                else:
                    share = float(np.clip(prog[i] + rng.normal(0, 0.15), 0, 1))
                    pts = float(_round_half(np.array([c.max_points * share]))[0])
                vpts = None
                if verify[i] and edge is None:
                    vpts = max(0.0, pts - float(rng.integers(1, 4))) if rng.random() < 0.3 else pts
                rows.append((ids[i], y, c.code, pts, None, vpts, None,
                             f"minh-chung/{ids[i]}/{y}/{c.code}.pdf", import_id))
            for c in conditions:
                met = bool(prog[i] + rng.normal(0, 0.1) > 0.05)
                if edge is not None:
                    met = True
                if i == unmet and y == yrs[-1] and c.code == "DH1":
                    met = False
                rows.append((ids[i], y, c.code, None, met, None, None, None, import_id))
    tbl = pa.table({
        "school_id": pa.array([r[0] for r in rows], pa.string()),
        "school_year": pa.array([r[1] for r in rows], pa.string()),
        "criterion_code": pa.array([r[2] for r in rows], pa.string()),
        "self_points": pa.array([r[3] for r in rows], pa.float64()),
        "self_met": pa.array([r[4] for r in rows], pa.bool_()),
        "verified_points": pa.array([r[5] for r in rows], pa.float64()),
        "verified_met": pa.array([r[6] for r in rows], pa.bool_()),
        "evidence_url": pa.array([r[7] for r in rows], pa.string()),
        "import_id": pa.array([r[8] for r in rows], pa.int64()),
    })
    con.register("s_scores", tbl)
    con.execute("INSERT INTO criterion_scores SELECT * FROM s_scores")
    con.unregister("s_scores")
    return tbl.num_rows


def _write_demo_users(con, now) -> None:
    """Demo accounts, one per role and a principal per cấp học; password auth.DEMO_PASSWORD.

    The login page lists them only while the sample is loaded.
    """
    hashed = auth.hash_password(auth.DEMO_PASSWORD)  # one bcrypt hash (own salt), shared: demo only
    for name, display, role, school in auth.demo_users(con):
        con.execute("INSERT INTO users VALUES (?, ?, ?, ?, NULL, ?, TRUE, ?, ?)",
                    [name, display, role, school, hashed, now, now])


# ---- the schools' own entries (kpi.workflows.entry), in the state store ------------------------------------

WORKFLOW_MIN, WORKFLOW_MAX = 10, 200  # district-sized samples only
UNAPPROVED = ("nhap", "da_nop", "tra_lai")
SAMPLE_USER = "du_lieu_mau"
_STATES = ("nhap", "nhap", "da_nop", "da_nop", "da_nop", "tra_lai", "da_duyet", "da_duyet", "da_duyet")
# the demo principals' schools (kpi.admin.auth.demo_users), one state each: their principals see them
_DEMO_STATES = {"TH": "tra_lai", "THCS": "nhap", "MN": "da_nop", "GDTX": "da_duyet"}
RETURN_REASON = ("Số phòng học có thiết bị trình chiếu lớn hơn tổng số phòng học: kiểm tra lại hai số này "
                 "(chỉ tính phòng học, không tính phòng chức năng) rồi nộp lại. (Dữ liệu mẫu)")


def _demo(sch) -> set[int]:
    """The indexes of the demo principals' schools: the first public school of each cấp học."""
    out = {}
    for i, (sid, lv, ow) in enumerate(zip(sch["school_id"], sch["level"], sch["ownership"])):
        if ow == "cong_lap" and (lv not in out or sid < sch["school_id"][out[lv]]):
            out[lv] = i
    return set(out.values())


def _workflow_plan(sch, submitted, rng) -> dict[int, str]:
    """Which schools' entries are in which state in the latest period (deterministic)."""
    demo = _demo(sch)
    plan = {i: _DEMO_STATES[sch["level"][i]] for i in demo}
    others = [i for i in np.nonzero(submitted)[0].tolist() if i not in demo]
    for i, st in zip(rng.permutation(others).tolist(), _STATES):
        plan[i] = st
    return plan


def _entries(con, cat: Catalog, sch, plan, values, last, periods, clock: Clock | None = None) -> dict:
    """Every row the sample's entries need, read from the figures just generated."""

    y, r = last
    ids = sch["school_id"]
    kept = {ids[i] for i, s in plan.items() if s not in UNAPPROVED or i in _demo(sch)}
    stored = {}
    for sid, code, v in con.execute("SELECT school_id, field_code, value FROM observations WHERE school_year = ? "
                                    "AND round = ?", [y, r]).fetchall():
        if sid in kept:
            stored.setdefault(sid, {})[code] = v
    prev = periods[periods.index(last) - 1]
    before = {}
    for sid, code, v in con.execute("SELECT school_id, field_code, value FROM observations WHERE school_year = ? "
                                    "AND round = ?", [*prev]).fetchall():
        before.setdefault(sid, {})[code] = v
    deadline = dt.datetime(int(y[5:]), 5, 20, 17) if r == "CN" else dt.datetime(int(y[5:]), 1, 10, 17)
    ref = clock.work_ref(deadline, 12) if clock else deadline  # the latest decision ≤ ref + 5,2 days < the as-of day
    grew = f"3/{y[5:]}" if r == "CN" else f"10/{y[:4]}"
    rows = {"entries": [], "values": [], "audit": []}
    for k, (i, st) in enumerate(sorted(plan.items())):
        sid, level = ids[i], sch["level"][i]
        fields = cat.fields_for(level)
        vals = dict(stored.get(sid) or {f.code: float(values[f.code][i]) for f in fields})
        notes = {}
        if st == "tra_lai" and "phong_hoc_trinh_chieu" in vals and "phong_hoc" in vals:
            vals["phong_hoc_trinh_chieu"] = vals["phong_hoc"] + 3
            notes["phong_hoc_trinh_chieu"] = "Tính cả 3 phòng chức năng có máy chiếu. (Dữ liệu mẫu)"
        elif st == "da_nop" and k % 2 == 0 and vals.get("hs_tong"):
            vals["hs_tong"] = round(vals["hs_tong"] * 1.4)
            notes["hs_tong"] = f"Từ tháng {grew} trường nhận thêm học sinh của điểm trường sáp nhập. (Dữ liệu mẫu)"
            for num, den in cat.ratio_pairs():  # keep the new total consistent with what it is the total of
                if den == "hs_tong" and num in vals:
                    vals[num] = min(vals[num], vals["hs_tong"])
        raw = {c: checks.shown_value(cat.fields[c], v) for c, v in vals.items()}
        check = checks.check_form(raw, notes, level, cat, before.get(sid, {}), f"{prev[0]} {prev[1]}")
        notes.update({c: "Trường đã kiểm tra lại: số liệu đúng. (Dữ liệu mẫu)" for c in check.flags if c not in notes})
        saved = (ref - dt.timedelta(days=6, hours=k)).replace(tzinfo=VN).timestamp()
        submitted = None if st == "nhap" else saved + 3600 * (1 + k % 5) + (9 * 86400 if k % 4 == 3 else 0)
        decided = None if st in ("nhap", "da_nop") else submitted + 2 * 86400
        state = "da_duyet" if st == "da_duyet" else st
        rows["entries"].append((sid, y, r, state, 3 if decided else 2 if submitted else 1, submitted or saved,
                                f"ht.{sid.lower()}", submitted, f"ht.{sid.lower()}" if submitted else None, submitted,
                                decided, "chuyenvien" if decided else None,
                                RETURN_REASON if st == "tra_lai" else None, "form"))
        for c in cat.fields:
            if c in raw:
                rows["values"].append((sid, y, r, c, raw[c], vals[c], ",".join(check.flag_codes(c)) or None,
                                       notes.get(c)))
        rows["audit"].append((saved, f"ht.{sid.lower()}", "luu_nhap", sid))
        if submitted:
            rows["audit"].append((submitted, f"ht.{sid.lower()}", "nop_so_lieu", sid))
        if decided:
            rows["audit"].append((decided, "chuyenvien", "tra_lai" if st == "tra_lai" else "duyet", sid))
    if clock:  # a round opened only days ago holds the sample's workflow within those days
        rows["entries"], rows["audit"] = clock.squeeze(opens(y, r), (rows["entries"], (5, 7, 9, 10)),
                                                       (rows["audit"], (0,)))
    locked = clock.lock_time(*prev) if clock else dt.datetime(int(prev[0][5:]), 2, 1, 9)
    locked_at = locked.replace(tzinfo=VN).timestamp()
    rows["locks"] = [(sid, prev[0], prev[1], locked_at, "chuyenvien") for sid in ids]
    rows["audit"].append((locked_at, "chuyenvien", "khoa_ky", None))
    rows["lock_period"] = prev
    return rows


def _write_entries(path, rows: dict) -> None:
    """The sample's entries in the state store beside `path`, replacing the entries there (a demo
    reset; the audit of what people did keeps its rows, the sample's own are written again)."""
    store = state.store_for(path)
    with store.write() as con:
        for clear in ("sample.clear_entries", "sample.clear_entry_values", "sample.clear_period_locks",
                      "sample.clear_audit"):
            con.execute(state.sql(clear))
        for statement, key in (("sample.entry", "entries"), ("sample.entry_value", "values"),
                               ("sample.period_lock", "locks")):
            con.executemany(state.sql(statement), state.named(statement, rows[key]))
        periods = {e[0]: f"{e[1]} {e[2]}" for e in rows["entries"]}
        locked = " ".join(rows["lock_period"])
        for at, user, action, sid in rows["audit"]:
            detail = {"truong": sid, "ky": periods[sid]} if sid else {"ky": locked}
            state.audit_in(con, action, user, {**detail, "du_lieu_mau": True}, now=at)
        state.bump(con, "workflow")
    store.checkpoint()  # the sample's store is one self-contained file (it may be copied with the database)


# ---- the yearly maturity assessment (kpi.workflows.assessment), in the state store -----------------------------

# the demo principals' schools: TH001 drafts (with an evidence file), THCS001 was returned, GDTX001
# submitted; the others of the latest year cycle through every state; the year before is published.
_DEMO_ASSESS = {"TH": "nhap", "THCS": "tra_lai", "GDTX": "da_nop"}
_ASSESS_STATES = ("chua_bat_dau", "nhap", "da_nop", "da_nop", "tra_lai", "da_duyet", "chua_bat_dau", "da_nop")
ASSESS_RETURN = ("Tiêu chí DH4 tự chấm cao hơn nhiều so với tỉ lệ môn học có học liệu số trường đã báo cáo: bổ sung "
                 "danh mục học liệu số theo môn làm minh chứng. (Dữ liệu mẫu)")
# a minimal valid PDF (one empty page): the sample's evidence file
SAMPLE_PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
              b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
              b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")


def _assessments(con, cat: Catalog, sch, yrs, clock: Clock | None = None) -> dict:
    """The state-store rows of the sample's assessments, and the previous year's publication written
    into the analytics file (inside the sample's writer transaction; it changes no entry)."""

    codes = [c.code for c in assessment.scored_criteria(cat)]
    applies = set(cat.index.levels_apply)
    ids = [(sid, lv) for sid, lv in zip(sch["school_id"], sch["level"]) if lv in applies]
    demo = {sch["school_id"][i] for i in _demo(sch)}
    scores = {}
    for sid, y, code, sp, sm, vp, vm in con.execute(
            "SELECT school_id, school_year, criterion_code, self_points, self_met, verified_points, verified_met "
            "FROM criterion_scores WHERE list_contains(?, school_year)", [yrs[-2:]]).fetchall():
        scores[(sid, y, code)] = (sp, sm, vp, vm)
    out = {"assessments": [], "items": [], "evidence": [], "audit": []}
    prev, last = (yrs[-2], yrs[-1]) if len(yrs) > 1 else (None, yrs[-1])
    if prev:
        at = dt.datetime(int(prev[5:]), 6, 25, 9, 0)
        published = [sid for sid, _ in ids if any((sid, prev, c) in scores for c in codes)]
        rows = [(sid, prev, c, *scores[(sid, prev, c)]) for sid in published for c in codes if (sid, prev, c) in scores]
        pid = publication.write_in(con, prev, rows, published, "chuyenvien", at, cat, rescore=False)
        ts = at.replace(tzinfo=VN).timestamp()
        for sid in published:
            out["assessments"].append((sid, prev, "da_cong_bo", 4, ts - 30 * 86400, f"ht.{sid.lower()}",
                                       ts - 30 * 86400, f"ht.{sid.lower()}", ts - 10 * 86400, "chuyenvien", None, pid))
        for sid, y, c, sp, sm, vp, vm in rows:
            out["items"].append((sid, y, c, sp, sm, None, vp if vp is not None else sp, vm if vm is not None else sm,
                                 None, 0, "chuyenvien", ts - 10 * 86400))
        out["audit"].append((ts, "chuyenvien", "danh_gia_cong_bo", {"nam_hoc": prev, "lan_cong_bo": pid}))
    end = dt.datetime(int(last[5:]), 5, 31, 17)
    deadline = (clock.work_ref(end, 20) if clock else end).replace(tzinfo=VN).timestamp()  # last act ≤ +13,2 days
    others = iter(_ASSESS_STATES * (len(ids) // len(_ASSESS_STATES) + 1))
    start = {key: len(out[key]) for key in out}  # the latest year's rows follow
    for k, (sid, lv) in enumerate(ids):
        st = _DEMO_ASSESS.get(lv, "nhap") if sid in demo else next(others)
        if st == "chua_bat_dau":
            continue
        saved = deadline - (12 - k % 9) * 86400
        late = 15 * 86400 if k % 7 == 3 else 0  # a few submit after the deadline
        sub = None if st == "nhap" else saved + 3600 * (1 + k % 5) + late
        dec = sub + 2 * 86400 if st in ("tra_lai", "da_duyet") else None
        user = f"ht.{sid.lower()}"
        out["assessments"].append((sid, last, st, 3 if dec else 2 if sub else 1, sub or saved, user, sub,
                                   user if sub else None, dec, "chuyenvien" if dec else None,
                                   ASSESS_RETURN if st == "tra_lai" else None, None))
        filled = codes if st != "nhap" else codes[: len(codes) // 2]
        for c in filled:
            sp, sm, _, _ = scores.get((sid, last, c), (None, None, None, None))
            if sp is None and sm is None:
                sp, sm = (0.0, None) if cat.criteria[c].rule != "condition" else (None, True)
            returned = st == "tra_lai" and c == "DH4"
            ver = st == "da_duyet"
            out["items"].append((sid, last, c, sp, sm, None, sp if ver else None, sm if ver else None,
                                 "Bổ sung danh mục học liệu số theo môn. (Dữ liệu mẫu)" if returned else None,
                                 int(returned), "chuyenvien" if ver else None, dec if ver else None))
        if sid in demo and st == "nhap":
            out["evidence"].append((sid, last, codes[0], "ke_hoach_day_hoc_truc_tuyen.pdf", "pdf", len(SAMPLE_PDF),
                                    hashlib.sha256(SAMPLE_PDF).hexdigest(), SAMPLE_PDF, saved, user))
        out["audit"].append((sub or saved, user, "danh_gia_nop" if sub else "danh_gia_luu", {"truong": sid,
                                                                                             "nam_hoc": last}))
        if dec:
            out["audit"].append((dec, "chuyenvien", "danh_gia_tra_lai" if st == "tra_lai" else "danh_gia_duyet",
                                 {"truong": sid, "nam_hoc": last}))
    if clock:  # a school year begun only days ago holds its assessments within those days
        keys, at = ("assessments", "items", "evidence", "audit"), ((4, 6, 8), (11,), (8,), (0,))
        fitted = clock.squeeze(dt.datetime(int(last[:4]), 9, 1), *((out[k][start[k]:], a) for k, a in zip(keys, at)))
        for k, rows in zip(keys, fitted):
            out[k][start[k]:] = rows
    return out


def _write_assessments(path, rows: dict) -> None:
    """The sample's assessments in the state store beside `path`, replacing those there."""

    store = state.store_for(path)
    with store.write() as con:
        for clear in ("sample.clear_assessments", "sample.clear_assessment_items", "sample.clear_assessment_evidence",
                      "sample.clear_assessment_cycles"):
            con.execute(state.sql(clear))
        for statement, key in (("sample.assessment", "assessments"), ("sample.assessment_item", "items"),
                               ("sample.assessment_evidence", "evidence")):
            con.executemany(state.sql(statement), state.named(statement, rows[key]))
        for at, user, action, detail in rows["audit"]:
            state.audit_in(con, action, user, {**detail, "du_lieu_mau": True}, now=at)
        assessment.bump(con)
    store.checkpoint()
