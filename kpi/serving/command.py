"""The `serve` command's arguments and its run, apart from kpi.cli: `python -m kpi serve` reads them here
without importing the other commands (DuckDB, pandas, plotly), so the supervisor it becomes stays small
(kpi/__main__.py; kpi.cli lists the same command for its help)."""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys

from kpi.store import paths


class ServeError(Exception):
    """A refusal with a message for the user; exit code 1."""


def add_parser(sub) -> argparse.ArgumentParser:
    sv = sub.add_parser("serve", help="phục vụ ứng dụng: nginx trước N tiến trình Streamlit (mỗi lõi một tiến trình)")
    sv.add_argument("--db", help="đường dẫn tệp DuckDB")
    sv.add_argument("--port", type=int, default=8501, help="cổng nhận trình duyệt (mặc định 8501)")
    sv.add_argument("--address", default="127.0.0.1",
                    help="địa chỉ lắng nghe (mặc định 127.0.0.1; 0.0.0.0 để máy khác truy cập)")
    sv.add_argument("--workers", type=int, default=None, help="số tiến trình Streamlit (mặc định: số lõi)")
    sv.add_argument("--restart", action="store_true",
                    help="khởi động lại lần lượt từng tiến trình của `kpi serve` đang chạy trên cổng này "
                         "(khi nâng cấp)")
    sv.add_argument("--store", metavar="URL",
                    help="kho trạng thái dùng chung trên PostgreSQL (postgresql://người_dùng@máy/csdl; như biến "
                         "KPI_STORE), để nhiều máy chủ dùng chung; mặc định: tệp SQLite bên cạnh tệp dữ liệu")
    sv.add_argument("--front", action="append", default=[], metavar="ĐỊA_CHỈ",
                    help="địa chỉ của `kpi front` đứng trước máy này (nêu lại cho mỗi cửa trước): địa chỉ của "
                         "trình duyệt do nó chuyển tới được tin (chống dò mật khẩu, nhật ký)")
    return sv


def use_store(url: str, path) -> None:
    """`serve --store URL`: the PostgreSQL state store for this process and every worker it starts (they
    inherit $KPI_STORE), reached once here so that a wrong address stops the start with its reason."""
    # deferred: the state store's drivers (psycopg) only for --store, never in the supervisor otherwise
    from kpi.common import faults
    from kpi.store import state

    os.environ["KPI_STORE"] = url
    try:
        state.store_for(path).workflow_version()
    except ValueError as e:
        raise ServeError(str(e)) from e
    except faults.StoreUnavailable as e:
        raise ServeError(f"Không dùng được kho trạng thái {state.store_for(path).path}: {e}") from e


def run(args) -> int:
    # deferred: 1,4 s to import (the front end, the supervisor); only `serve` needs it
    from kpi.serving import serve

    if args.restart:
        try:
            return serve.request_restart(args.port)
        except RuntimeError as e:
            raise ServeError(str(e)) from e
    path = paths.db_path(args.db)
    if not path.exists():
        raise ServeError(f"Chưa có cơ sở dữ liệu tại {path}. Chạy `python -m kpi init --sample` trước.")
    if args.store:
        use_store(args.store, path)
    try:
        fronts = tuple(str(ipaddress.ip_network(a.strip(), strict=False)) for a in args.front)
    except ValueError:
        raise ServeError("--front cần địa chỉ IP (ví dụ 10.0.0.5) hoặc dải địa chỉ (10.0.0.0/24) "
                         "của cửa trước.") from None
    try:
        return serve.serve(args.port, args.workers, args.address, path, fronts)
    except RuntimeError as e:
        raise ServeError(str(e)) from e


def main(argv: list[str] | None = None) -> int:
    """`python -m kpi serve ...` (kpi/__main__.py): the same arguments and messages as through kpi.cli."""
    p = argparse.ArgumentParser(prog="python -m kpi", description="Bảng điều khiển chuyển đổi số: công cụ dòng lệnh.")
    add_parser(p.add_subparsers(dest="command", required=True, metavar="LỆNH"))
    args = p.parse_args(argv)
    try:
        return run(args)
    except ServeError as e:
        print(f"Lỗi: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
