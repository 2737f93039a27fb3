"""`python -m kpi`: the dashboard's functions from the command line.

Commands: init (schema or sample database), summary (district figures of a period), version (the
file's data version, write log seq and content fingerprint: several machines compared), scores
(maturity index per school; --check compares it with the reference engine), rescore (rewrite the
stored index after the criteria or rules changed), users, targets (a school year's targets as a
file: export, import, publish), template, import, snapshot, export, bench,
gallery (every page and every export as images in one offline HTML file).
Exit codes: 0 done, 1 refused or failed (message on stderr, in Vietnamese), 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time

from kpi.admin import auth, plans
from kpi.admin.shared import AdminError
from kpi.catalog.model import LEVELS, ROUNDS, CatalogError, default_catalog
from kpi.common import cells, faults
from kpi.common.access import Scope
from kpi.common.formatting import fmt_date, fmt_int, fmt_number
from kpi.exports import renderer
from kpi.imports import import_read, importer
from kpi.imports.problems import error_report
from kpi.imports.templates import build_template
from kpi.serving import balancer
from kpi.serving import command as serve_command
from kpi.store import db, derived, queries, replica, state
from kpi.workflows import snapshots
from kpi.writes import door

SUMMARY_COLUMNS = ["indicator_code", "level", "school_year", "round", "numerator", "denominator",
                   "value", "target", "schools_reporting", "schools_expected", "schools_meeting"]


class CliError(Exception):
    """A refusal with a message for the user; exit code 1."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m kpi",
                                description="Bảng điều khiển chuyển đổi số: công cụ dòng lệnh.")
    sub = p.add_subparsers(dest="command", required=True, metavar="LỆNH")

    init = sub.add_parser("init", help="tạo cơ sở dữ liệu (trống, hoặc dữ liệu mẫu với --sample)")
    init.add_argument("--db", help="đường dẫn tệp DuckDB (mặc định: $KPI_DB hoặc data/kpi.duckdb)")
    init.add_argument("--sample", action="store_true", help="tạo dữ liệu mẫu (trường giả định)")
    init.add_argument("--schools", type=int, default=53, help="số trường của dữ liệu mẫu (mặc định 53)")
    init.add_argument("--years", type=int, default=3,
                      help="số năm học, kết thúc 2023-2024 hoặc năm học của --as-of (mặc định 3)")
    init.add_argument("--as-of", metavar="NGÀY",
                      help="dữ liệu mẫu như tại ngày DD/MM/YYYY hoặc today (hôm nay): năm học mới nhất là năm "
                           "học của ngày đó, chỉ có các kỳ đã mở, kỳ đang mở còn hạn và chỉ một phần trường đã "
                           "nộp, không có gì xảy ra sau ngày đó (mặc định: mẫu cố định kết thúc 2023-2024)")
    init.add_argument("--seed", type=int, default=7, help="hạt giống ngẫu nhiên (mặc định 7)")
    init.add_argument("--force", action="store_true",
                      help="cho phép ghi đè một cơ sở dữ liệu không phải dữ liệu mẫu")

    summ = sub.add_parser("summary", help="số liệu toàn đơn vị của một kỳ báo cáo, theo chỉ số × cấp học")
    summ.add_argument("--db", help="đường dẫn tệp DuckDB")
    summ.add_argument("--year", required=True, help="năm học, ví dụ 2023-2024")
    summ.add_argument("--round", required=True, choices=ROUNDS, help="kỳ: HK1 hoặc CN")
    summ.add_argument("--level", choices=LEVELS, help="chỉ một cấp học")
    summ.add_argument("--format", choices=("csv", "json", "table"), default="table")
    ve = sub.add_parser("version", help="phiên bản số liệu, lần ghi của nhật ký chung và dấu vân tay nội dung "
                        "(SHA-256) của tệp: hai máy cùng ba giá trị là cùng số liệu")
    ve.add_argument("--db", help="đường dẫn tệp DuckDB")
    ve.add_argument("--catch-up", action="store_true", help="cập nhật tệp theo nhật ký ghi chung trước (nhiều máy)")
    ve.add_argument("--format", choices=("json", "table"), default="table")
    sc = sub.add_parser("scores", help="mức độ chuyển đổi số của từng trường trong một năm học")
    sc.add_argument("--db", help="đường dẫn tệp DuckDB")
    sc.add_argument("--year", required=True, help="năm học, ví dụ 2023-2024")
    sc.add_argument("--format", choices=("csv", "json", "table"), default="table")
    sc.add_argument("--check", action="store_true",
                    help="đối chiếu điểm của ứng dụng (SQL) với bộ chấm tham chiếu (kpi/domain/scoring.py)")
    rs = sub.add_parser("rescore", help="chấm lại chỉ số CĐS của mọi trường và lưu (sau khi sửa tiêu chí "
                                         "hoặc quy tắc trong kpi/definitions/)")
    rs.add_argument("--db", help="đường dẫn tệp DuckDB")
    tp = sub.add_parser("template", help="tạo biểu mẫu Excel cho các trường điền")
    tp.add_argument("out", metavar="OUT.xlsx")
    tp.add_argument("--db", help="đường dẫn tệp DuckDB")
    tp.add_argument("--year", required=True)
    tp.add_argument("--round", required=True, choices=ROUNDS)
    tp.add_argument("--level", choices=LEVELS, help="chỉ các trường và chỉ tiêu của một cấp học")

    im = sub.add_parser("import", help="nhập tệp số liệu của trường (XLSX, CSV): tất cả hoặc không gì cả")
    im.add_argument("files", nargs="*", metavar="FILE")
    im.add_argument("--db", help="đường dẫn tệp DuckDB")
    im.add_argument("--dry-run", action="store_true", help="chỉ kiểm tra và cho xem trước, không ghi")
    im.add_argument("--user", help="tài khoản Phòng đang hoạt động thực hiện việc nhập hoặc hoàn tác (bắt buộc)")
    im.add_argument("--revert", type=int, metavar="ID", help="hoàn tác lần nhập số ID")
    im.add_argument("--errors", metavar="OUT.xlsx", help="ghi danh sách lỗi ra tệp Excel")

    sn = sub.add_parser("snapshot", help="chốt số liệu một kỳ báo cáo (bản sao không đổi, có mã băm)")
    sn.add_argument("--db", help="đường dẫn tệp DuckDB")
    sn.add_argument("--year", required=True)
    sn.add_argument("--round", required=True, choices=ROUNDS)
    sn.add_argument("--name", default="", help="tên bản chốt, ví dụ 'Họp giao ban tháng 1'")
    sn.add_argument("--user", help="tài khoản Phòng đang hoạt động thực hiện việc chốt (bắt buộc)")

    ex = sub.add_parser("export", help="xuất bộ báo cáo họp: pptx | pdf | xlsx | html | png (zip)")
    ex.add_argument("--db", help="đường dẫn tệp DuckDB")
    ex.add_argument("--year", required=True)
    ex.add_argument("--round", required=True, choices=ROUNDS)
    ex.add_argument("--format", required=True, choices=("pptx", "pdf", "xlsx", "html", "png"))
    ex.add_argument("--snapshot", help="mã bản chốt (mặc định: số liệu trực tiếp)")
    ex.add_argument("--school", help="phiếu của một trường (PDF)")
    ex.add_argument("--out", required=True)

    serve_command.add_parser(sub)

    fr = sub.add_parser("front", help="cửa trước chung của nhiều máy (mỗi máy chạy `kpi serve` trên kho PostgreSQL "
                                      "dùng chung): nginx chia người dùng giữa các máy, máy dừng thì sang máy khác")
    fr.add_argument("--machine", action="append", default=[], metavar="MÁY:CỔNG",
                    help="một máy chạy `kpi serve` (nêu lại cho mỗi máy), ví dụ 10.0.0.11:8501")
    fr.add_argument("--port", type=int, default=8500, help="cổng nhận trình duyệt (mặc định 8500)")
    fr.add_argument("--address", default="0.0.0.0", help="địa chỉ lắng nghe (mặc định 0.0.0.0)")
    fr.add_argument("--print-config", action="store_true",
                    help="chỉ in cấu hình nginx (để đặt vào nginx của hệ thống), không chạy")

    rd = sub.add_parser("renderer", help="(kpi serve tự chạy) trình vẽ biểu đồ dùng chung cho mọi tiến trình")
    rd.add_argument("--socket", required=True, help="đường dẫn Unix socket")

    ga = sub.add_parser("gallery", help="bộ sưu tập giao diện: ảnh mọi trang × vai trò × cỡ màn hình và mọi trang "
                                         "của mọi tệp xuất, trong một tệp HTML xem không cần mạng")
    ga.add_argument("out", metavar="OUT/", help="thư mục ghi index.html và ảnh (img/)")
    ga.add_argument("--db", help="cơ sở dữ liệu (mặc định: dữ liệu mẫu tạo mới trong thư mục tạm)")
    ga.add_argument("--workers", type=int, default=2, help="số trình duyệt chạy song song (mặc định 2)")
    ga.add_argument("--no-exports", action="store_true", help="chỉ chụp các trang, không tạo tệp xuất")

    be = sub.add_parser("bench", help="đo tốc độ từng trang, nhập tệp, bộ báo cáo, bộ nhớ")
    be.add_argument("--schools", type=int, default=53000)
    be.add_argument("--years", type=int, default=5)
    be.add_argument("--quick", action="store_true", help="quy mô quận (53 trường, 3 năm), dưới một phút")
    be.add_argument("--json", metavar="OUT", help="ghi kết quả ra tệp JSON")
    be.add_argument("--load", action="store_true",
                    help="đo trên máy chủ thật (kpi serve) với nhiều người dùng đăng nhập cùng lúc")
    be.add_argument("--sessions", type=int, default=60, help="--load: số phiên trình duyệt (mặc định 60)")
    be.add_argument("--seconds", type=float, default=90, help="--load: thời gian đo, giây (mặc định 90)")
    be.add_argument("--think", type=float, nargs=2, default=(3, 10), metavar=("MIN", "MAX"),
                    help="--load: thời gian đọc giữa hai thao tác, giây (mặc định 3 10)")
    be.add_argument("--db", help="--load: cơ sở dữ liệu (mặc định: dữ liệu mẫu cấp quận trong data/bench/)")
    be.add_argument("--workers", type=int, default=None, help="--load: số tiến trình (mặc định: số lõi)")
    be.add_argument("--no-browser", action="store_true", help="--load: không chạy phiên Chromium thật")
    be.add_argument("--no-pack", action="store_true",
                    help="--load: phiên Chromium không tạo bộ báo cáo họp (mặc định: tạo một lần, giây thứ 30)")
    be.add_argument("--store", metavar="URL",
                    help="--load: kho trạng thái PostgreSQL (URL của một cơ sở dữ liệu trống, hoặc `temp`: một máy "
                         "chủ PostgreSQL tạm do phép đo tự chạy); mặc định SQLite")
    be.add_argument("--machines", type=int, default=1,
                    help="--load: số máy (mỗi máy một `kpi serve` trên bản sao riêng của tệp, chung kho PostgreSQL, "
                         "sau một `kpi front`), chạy cả trên máy này; mặc định 1")
    be.add_argument("--kill-machine", type=float, metavar="GIÂY",
                    help="--load với --machines 2 trở lên: `kill -9` cả cây tiến trình của máy thứ hai sau chừng ấy "
                         "giây (người dùng của nó phải đi tiếp qua máy khác)")
    be.add_argument("--costs", action="store_true",
                    help="--load: sau đó đo CPU của máy chủ cho một lượt chạy mỗi trang (máy chủ ấm, không tải khác)")

    us = sub.add_parser("users", help="quản lý tài khoản: add | list | disable | enable | reset-password")
    us_sub = us.add_subparsers(dest="action", required=True, metavar="VIỆC")
    add = us_sub.add_parser("add", help="thêm tài khoản (mật khẩu hỏi khi chạy, hoặc đọc từ stdin)")
    add.add_argument("user_name")
    add.add_argument("--role", required=True, choices=("lanh_dao", "chuyen_vien", "hieu_truong", "truong_nhap_lieu"))
    add.add_argument("--name", help="tên hiển thị (mặc định: tên đăng nhập)")
    add.add_argument("--school", help="mã trường (bắt buộc với hieu_truong và truong_nhap_lieu)")
    add.add_argument("--unit", help="mã đơn vị giới hạn phạm vi (mặc định: mọi đơn vị)")
    add.add_argument("--password-stdin", action="store_true", help="đọc mật khẩu từ dòng đầu của stdin")
    us_list = us_sub.add_parser("list", help="liệt kê tài khoản")
    us_list.add_argument("--format", choices=("csv", "json", "table"), default="table")
    for action in ("disable", "enable", "reset-password"):
        a = us_sub.add_parser(action)
        a.add_argument("user_name")
        if action == "reset-password":
            a.add_argument("--password-stdin", action="store_true")
    for name, a in us_sub.choices.items():
        a.add_argument("--db", help="đường dẫn tệp DuckDB")
        if name != "list":
            a.add_argument("--user", help="tài khoản lãnh đạo Phòng đang hoạt động thực hiện việc này (bắt buộc, trừ "
                                          "khi tạo tài khoản lãnh đạo đầu tiên)")

    tg = sub.add_parser("targets", help="chỉ tiêu kế hoạch theo năm học: export | import | publish | list")
    tg_sub = tg.add_subparsers(dest="action", required=True, metavar="VIỆC")
    te = tg_sub.add_parser("export", help="ghi chỉ tiêu đang áp dụng của một năm học ra tệp (dạng targets.toml)")
    te.add_argument("--year", required=True, help="năm học, ví dụ 2024-2025")
    te.add_argument("--out", help="tệp ghi ra (mặc định: in ra màn hình)")
    ti = tg_sub.add_parser("import", help="tạo bản nháp chỉ tiêu của một năm học từ tệp (tất cả hoặc không gì cả)")
    ti.add_argument("file", metavar="FILE.toml")
    ti.add_argument("--year", help="năm học cần lấy (khi tệp có nhiều năm học)")
    ti.add_argument("--document", help="số văn bản kế hoạch (ghi đè giá trị trong tệp)")
    ti.add_argument("--publish", action="store_true", help="công bố ngay sau khi nhập")
    tp_ = tg_sub.add_parser("publish", help="công bố bản nháp chỉ tiêu của một năm học")
    tp_.add_argument("--year", required=True)
    tg_sub.add_parser("list", help="các phiên bản chỉ tiêu đã công bố và bản nháp")
    for a in tg_sub.choices.values():
        a.add_argument("--db", help="đường dẫn tệp DuckDB")
        a.add_argument("--user", help="tài khoản lãnh đạo Phòng đang hoạt động thực hiện việc này (bắt buộc khi "
                                      "nhập hoặc công bố)")
    return p


def _read_password(args) -> str:
    if getattr(args, "password_stdin", False) or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    import getpass

    first = getpass.getpass("Mật khẩu: ")
    if first != getpass.getpass("Nhập lại mật khẩu: "):
        raise CliError("Hai lần nhập mật khẩu không khớp.")
    return first


def _who(args):
    """Who acts: the account named by --user, re-read and checked by the door (kpi.writes.door)."""
    return door.Cli(getattr(args, "user", None))


def cmd_users(args) -> int:

    path = _existing_db(args, "python -m kpi init")
    try:
        if args.action == "list":
            con = db.connect(path)
            try:
                _print_frame(queries.run(con, "user_list"), args.format)
            finally:
                con.close()
        elif args.action == "add":
            name = args.user_name.strip().lower()
            who = door.first_leader(path, args.role) if args.user is None else _who(args)
            door.act("tai_khoan_them", who, path=path, user_name=name, display_name=args.name or args.user_name,
                     role=args.role, password=_read_password(args), school_id=args.school, unit_id=args.unit)
            print(f"Đã thêm tài khoản {args.user_name} (đổi mật khẩu ở lần đăng nhập đầu tiên).")
        elif args.action in ("disable", "enable"):
            door.act("tai_khoan_khoa", _who(args), path=path, user_name=args.user_name,
                     active=args.action == "enable")
            print(f"Đã {'khóa' if args.action == 'disable' else 'mở khóa'} tài khoản {args.user_name}.")
        else:
            door.act("tai_khoan_dat_mat_khau", _who(args), path=path, user_name=args.user_name,
                     password=_read_password(args))
            print(f"Đã đặt lại mật khẩu cho {args.user_name} (đổi ở lần đăng nhập tới).")
    except (auth.AuthError, AdminError, door.Refused) as e:
        raise CliError(str(e)) from e
    return 0


def cmd_targets(args) -> int:

    path = _existing_db(args, "python -m kpi init")
    # the command line acts for a named leadership account (--user), re-read and checked by the door
    who = _who(args)
    try:
        if args.action == "export":
            con = db.connect(path)
            try:
                cat = plans.catalog_with_plans(con)
                pub = queries.plan_targets(con)
            finally:
                con.close()
            doc = pub.loc[pub["school_year"] == args.year, "document"]
            text = plans.export_toml(cat, args.year, doc.iloc[0] if not doc.empty else "")
            if args.out:
                with open(args.out, "w", encoding="utf-8") as f:
                    f.write(text)
                print(f"Đã ghi chỉ tiêu năm học {args.year} ra {args.out}.")
            else:
                sys.stdout.write(text)
        elif args.action == "import":
            try:
                with open(args.file, "rb") as f:
                    data = f.read()
            except OSError as e:
                raise CliError(f"Không đọc được tệp {args.file}: {e.strerror}.") from e
            d = door.act("chi_tieu_nhap_tep", who, path=path, data=data, file_name=args.file, school_year=args.year)
            if args.document:
                d = door.act("chi_tieu_so_van_ban", who, path=path, school_year=d["school_year"],
                             document=args.document)
            print(f"Đã tạo bản nháp chỉ tiêu năm học {d['school_year']} ({fmt_int(len(d['rows']))} chỉ tiêu).")
            if args.publish:
                v = door.act("chi_tieu_cong_bo", who, path=path, school_year=d["school_year"], version=d["version"])
                print(f"Đã công bố chỉ tiêu năm học {d['school_year']}, phiên bản {v}.")
        elif args.action == "publish":
            v = door.act("chi_tieu_cong_bo", who, path=path, school_year=args.year)
            print(f"Đã công bố chỉ tiêu năm học {args.year}, phiên bản {v}.")
        else:
            df = plans.published_versions(path)
            if df.empty:
                print("Chưa công bố phiên bản chỉ tiêu nào trong ứng dụng (đang dùng targets.toml).")
            else:
                _print_frame(df, "table")
            for year in plans.drafts(path):
                print(f"Bản nháp: năm học {year}")
    except (AdminError, door.Refused) as e:
        raise CliError(str(e)) from e
    return 0


def cmd_template(args) -> int:

    path, con = _open_db(args)
    try:
        if not ((queries.periods(con)["school_year"] == args.year)
                & (queries.periods(con)["round"] == args.round)).any():
            raise CliError(f"Không có kỳ báo cáo {args.year} {args.round} trong {path}.")
        schools = queries.school_list(con, Scope.everything())
        unit = queries.meta(con).get("unit_name", "")
    finally:
        con.close()
    data = build_template(default_catalog(), schools, args.year, args.round, args.level, unit)
    with open(args.out, "wb") as f:
        f.write(data)
    print(f"Đã tạo biểu mẫu {args.out} ({fmt_int(len(schools))} trường).")
    return 0


def cmd_import(args) -> int:
    from pathlib import Path


    path = _existing_db(args)
    if args.revert is not None:
        try:
            print(door.act("hoan_tac", _who(args), path=path, import_id=args.revert))
        except ValueError as e:  # door.Refused included
            raise CliError(str(e)) from e
        return 0
    if not args.files:
        print("Lỗi: cần ít nhất một tệp (hoặc --revert ID).", file=sys.stderr)
        return 2
    rejected, problems = 0, []
    for f in args.files:
        p = Path(f)
        if not p.is_file():
            print(f"Lỗi: không tìm thấy tệp {f}.", file=sys.stderr)
            return 2
        too_big = import_read.size_refusal(p.stat().st_size, importer.LIMITS)  # before a byte of it is read
        if too_big:
            rejected += 1
            print(f"Không nhập {p.name}: {too_big}; không ghi gì.", file=sys.stderr)
            continue
        try:
            result = door.act("nhap_tep", _who(args), path=path, name=p.name, data=p.read_bytes(),
                              dry_run=args.dry_run)
            print(result.message)
            if args.dry_run and len(result.preview):
                print(result.preview.to_string(index=False))
        except door.Refused as e:
            raise CliError(str(e)) from e
        except importer.ImportRejected as e:
            rejected += 1
            problems += e.problems
            print(f"Không nhập {p.name}: {fmt_int(len(e.problems))} lỗi, không ghi gì.", file=sys.stderr)
            for pr in e.problems:
                print(f"  - {pr}", file=sys.stderr)
    if problems and args.errors:
        with db.open_private(args.errors) as fh:
            fh.write(error_report(problems))
    return 1 if rejected else 0


def cmd_snapshot(args) -> int:

    path = _existing_db(args)
    try:
        sid = door.act("chot_so_lieu", _who(args), path=path, school_year=args.year, round=args.round,
                       name=args.name)
    except ValueError as e:
        raise CliError(str(e)) from e
    con = db.connect(path)
    try:
        info = snapshots.snapshot_info(con, sid)
    finally:
        con.close()
    print(f"Đã chốt số liệu {args.year} {args.round}: mã {sid}, mã băm {info['content_hash']}.")
    return 0


def cmd_export(args) -> int:
    # deferred: only `export` needs the exporters and view models, 2,3 s to import (plotly, python-pptx, reportlab)
    from kpi.exports import export, school_pdf
    from kpi.views import cache as views
    from kpi.views.pack import build_pack

    # the pages' own view models over the file and its state store: the schools' submissions in
    # the app count, so the CLI's pack states what the Báo cáo page's pack states
    v = views.Views(_existing_db(args))
    t0 = time.perf_counter()
    try:
        cat = v.catalog
        if args.school:
            data = school_pdf.school_pdf(v, cat, Scope.everything(), args.school, args.year, args.round, args.snapshot)
        else:
            pack = build_pack(v, cat, Scope.everything(), args.year, args.round, args.snapshot)
            data = export.WRITERS[args.format](pack, cat)
    except export.ExportError as e:
        raise CliError(str(e)) from e
    except state.STORE_ERRORS as e:  # the submissions made in the app: without them timeliness would be wrong
        raise CliError("Không đọc được kho trạng thái bên cạnh tệp dữ liệu (các lần nộp trên ứng dụng), nên chưa "
                       "xuất: tình hình nộp báo cáo sẽ sai. Kiểm tra quyền đọc thư mục dữ liệu rồi chạy lại.") from e
    finally:
        v.close()
    with db.open_private(args.out) as f:
        f.write(data)
    print(f"Đã xuất {args.out} ({fmt_int(len(data))} byte, {fmt_number(time.perf_counter() - t0)} giây).")
    return 0


def cmd_serve(args) -> int:
    try:
        return serve_command.run(args)
    except serve_command.ServeError as e:
        raise CliError(str(e)) from e


def cmd_front(args) -> int:
    run_dir = db.db_path(None).parent / "run" / f"front-{args.port}"
    try:
        balancer.parse_machines(args.machine)
        if args.print_config:
            print(balancer.balancer_config(run_dir, args.address, args.port, args.machine), end="")
            return 0
        run_dir.mkdir(parents=True, exist_ok=True)
        return balancer.run(args.port, args.address, args.machine, run_dir)
    except (ValueError, RuntimeError) as e:
        raise CliError(str(e)) from e


def cmd_renderer(args) -> int:

    renderer.serve(args.socket)
    return 0


def cmd_gallery(args) -> int:
    from pathlib import Path

    # deferred: the gallery (Playwright) is a tool, 1,4 s to import; only `gallery` needs it
    from kpi.tools import browse, gallery

    if not Path(browse.CHROMIUM).exists():
        raise CliError(f"Cần trình duyệt chromium tại {browse.CHROMIUM} (Debian: apt-get install chromium).")
    if args.db and not Path(args.db).exists():
        raise CliError(f"Không có cơ sở dữ liệu tại {args.db}.")
    try:
        index = gallery.make_gallery(args.out, args.db, args.workers, not args.no_exports,
                                     log=lambda m: print(m, flush=True))
    except ImportError as e:
        raise CliError(f"Thiếu thư viện cho bộ sưu tập ({e.name}): chạy `make install-dev`.") from e
    print(f"Đã ghi {index}")
    return 0


def cmd_bench(args) -> int:
    if args.load:
        # deferred: the load bench is a tool, 2,0 s to import; only `bench --load` needs it
        from kpi.tools import loadbench

        source = db.db_path(args.db) if args.db else loadbench.default_source()
        if not source.exists():
            raise CliError(f"Chưa có cơ sở dữ liệu tại {source}.")
        result = loadbench.run_load(source, args.sessions, args.seconds, tuple(args.think), args.workers,
                                    browser=not args.no_browser, costs=args.costs, store=args.store,
                                    machines=args.machines, kill_after=args.kill_machine, pack=not args.no_pack)
        print(loadbench.report(result))
        if args.json:
            with open(args.json, "w", encoding="utf-8") as f:
                json.dump(result, f, ensure_ascii=False, indent=1, default=str)
        return 0
    # deferred: the bench is a tool, 2,3 s to import; only `bench` needs it
    from kpi.tools import bench

    schools, years = (53, 3) if args.quick else (args.schools, args.years)
    result = bench.run_bench(schools, years, quick=args.quick)
    print(bench.report(result))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, ensure_ascii=False, indent=1, default=str)
    return 0


def cmd_init(args) -> int:
    path = db.db_path(args.db)
    if args.as_of and not args.sample:
        raise CliError("--as-of chỉ dùng cùng --sample (dữ liệu mẫu).")
    if args.sample:
        if args.schools < 1 or args.years < 1:
            raise CliError("--schools và --years phải lớn hơn 0.")
        # deferred: the sample generator is a tool, 1,1 s to import; only `init --sample` needs it
        from kpi.tools.sample import build_sample
        from kpi.tools.sample_clock import parse_as_of
        try:
            as_of = parse_as_of(args.as_of) if args.as_of else None
        except ValueError as e:
            raise CliError(str(e)) from None
        if path.exists() and not args.force:
            con = db.connect(path)
            try:
                is_sample = queries.meta(con).get("is_sample") == "true"
            finally:
                con.close()
            if not is_sample:
                raise CliError(f"{path} đang chứa dữ liệu thật; không ghi đè bằng dữ liệu mẫu "
                               "(dùng --force nếu thật sự muốn).")
        t0 = time.perf_counter()
        s = build_sample(path, schools=args.schools, years=args.years, seed=args.seed, as_of=as_of)
        when = f" (tính đến ngày {fmt_date(as_of)})" if as_of else ""
        print(f"Đã tạo dữ liệu mẫu{when} tại {path}: {fmt_int(s.schools)} trường, {s.periods} kỳ báo cáo, "
              f"{fmt_int(s.observations)} số liệu, {fmt_int(s.submissions)} lượt nộp, "
              f"{fmt_int(s.criterion_scores)} điểm tiêu chí ({fmt_number(time.perf_counter() - t0)} giây).")
    else:
        with db.writing(path):
            pass
        print(f"Cơ sở dữ liệu sẵn sàng tại {path}.")
    return 0


def _existing_db(args, hint: str = "python -m kpi init --sample"):
    """The database path of --db / $KPI_DB; refused when there is no file."""
    path = db.db_path(args.db)
    if not path.exists():
        raise CliError(f"Không tìm thấy cơ sở dữ liệu {path} (chạy: {hint}).")
    return path


def _open_db(args):
    path = _existing_db(args)
    return path, db.connect(path)


def cmd_summary(args) -> int:
    path, con = _open_db(args)
    try:
        periods = queries.periods(con)
        if not ((periods["school_year"] == args.year) & (periods["round"] == args.round)).any():
            raise CliError(f"Không có kỳ báo cáo {args.year} {args.round} trong {path}.")
        df = queries.district_summary(con, plans.catalog_with_plans(con), Scope.everything(), args.year,
                                      args.round, level=args.level)
    finally:
        con.close()
    df = df[df["schools_expected"] > 0][SUMMARY_COLUMNS]
    for col in ("schools_reporting", "schools_expected", "schools_meeting"):
        df[col] = df[col].astype(int)
    _print_frame(df, args.format)
    return 0


def cmd_version(args) -> int:
    path = _existing_db(args)
    applied = db.catch_up(path) if args.catch_up else 0
    s = replica.status(path)
    if args.format == "json":
        print(json.dumps(s | {"applied": applied}, ensure_ascii=False))
        return 0
    print(f"Phiên bản số liệu: {s['data_version']}")
    head = f" / {s['log_head']} (lần ghi mới nhất từ máy {s['log_machine']})" if "log_head" in s else ""
    print(f"Lần ghi của nhật ký chung: {s['log_seq']}{head}" + (f"; vừa cập nhật {applied}" if applied else ""))
    print(f"Dấu vân tay nội dung (SHA-256): {s['content_sha256']}")
    if s["recorded_sha256"] and s["recorded_sha256"] != s["content_sha256"]:
        print(f"Cảnh báo: lần ghi cuối ghi dấu vân tay {s['recorded_sha256']}: tệp đã bị sửa ngoài ứng dụng.")
        return 1
    return 0


SCORE_COLUMNS = ["school_id", "school_year", "dh_points", "dh_level", "qt_points", "qt_level", "school_level",
                 "provisional"]


def _print_frame(df, fmt: str) -> None:
    """The frame on stdout as CSV (text neutralised, kpi.common.cells), JSON or an aligned table."""
    if fmt == "csv":
        sys.stdout.write(cells.csv_text(df))
    elif fmt == "json":
        json.dump(json.loads(df.to_json(orient="records")), sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(df.to_string(index=False) + "\n")


def cmd_scores(args) -> int:
    path, con = _open_db(args)
    try:
        if args.year not in queries.index_years(con):
            raise CliError(f"Chưa có số liệu đánh giá mức độ chuyển đổi số năm học {args.year} trong {path}.")
        schools = queries.maturity_schools(con, default_catalog(), Scope.everything(), [args.year])
        if args.check:
            return _check_scores(schools, queries.maturity_reference(con, default_catalog(), Scope.everything(),
                                                                     [args.year])[1])
    finally:
        con.close()
    _print_frame(schools.sort_values("school_id")[SCORE_COLUMNS], args.format)
    return 0


def _check_scores(app, reference) -> int:
    """Compare the app's scores with the reference engine's, school by school; 1 when any differs."""
    cols = [c for c in SCORE_COLUMNS if c not in ("school_id", "school_year")]
    a = app.set_index("school_id")[cols].sort_index()
    b = reference.set_index("school_id")[cols].sort_index()
    if list(a.index) != list(b.index):
        only = sorted(set(a.index) ^ set(b.index))
        print(f"Lỗi: {fmt_int(len(only))} trường chỉ có ở một bên: {', '.join(only[:20])}", file=sys.stderr)
        return 1
    differ = [sid for sid in a.index
              if any(abs(float(a.at[sid, c]) - float(b.at[sid, c])) > 1e-9 for c in cols)]
    if differ:
        print(f"Lỗi: {fmt_int(len(differ))} trường có điểm khác bộ chấm tham chiếu: {', '.join(differ[:20])}",
              file=sys.stderr)
        return 1
    print(f"Khớp: điểm của {fmt_int(len(a))} trường trùng với bộ chấm tham chiếu (kpi/domain/scoring.py).")
    return 0


def cmd_rescore(args) -> int:

    path = _existing_db(args)
    t0 = time.perf_counter()
    n = derived.rescore(path, default_catalog())
    print(f"Đã chấm lại chỉ số CĐS: {fmt_int(n)} lượt trường × năm học ({fmt_number(time.perf_counter() - t0)} giây).")
    return 0


COMMANDS = {"init": cmd_init, "rescore": cmd_rescore, "summary": cmd_summary, "scores": cmd_scores,
            "users": cmd_users, "targets": cmd_targets, "template": cmd_template, "import": cmd_import,
            "snapshot": cmd_snapshot, "export": cmd_export, "version": cmd_version,
            "bench": cmd_bench, "serve": cmd_serve, "front": cmd_front, "gallery": cmd_gallery,
            "renderer": cmd_renderer}


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one command; return the exit code."""
    args = _parser().parse_args(argv)
    if not logging.getLogger().handlers:  # the technical cause is for a server log, not for this terminal
        logging.getLogger("kpi").addHandler(logging.NullHandler())
    try:
        return COMMANDS[args.command](args)
    except (CliError, CatalogError, faults.StoreUnavailable, db.Divergence) as e:
        print(f"Lỗi: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("Đã dừng theo yêu cầu; việc đang ghi dở (nếu có) không được ghi.", file=sys.stderr)
        return 130
    except Exception as e:  # a disk that refuses a write outside the guarded writers: the same sentence
        mapped = faults.unavailable(e, "tệp", getattr(e, "filename", None) or "")
        if mapped is None:
            raise
        print(f"Lỗi: {mapped}", file=sys.stderr)
        return 1
