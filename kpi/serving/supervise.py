"""Process ownership for `python -m kpi serve`: nothing of a run outlives it, nothing stops the next.

Three mechanisms, each for a way a supervisor can end:

- A death signal. Each child asks the kernel (Linux `prctl(PR_SET_PDEATHSIG)`, armed between fork
  and exec) for a signal when the supervisor dies, `kill -9` included: workers and the renderer
  get SIGKILL (sessions live in the shared store; the renderer's chromium ends with its pipe),
  nginx's master gets SIGTERM so that it takes its own workers with it.
- Pid files. Every child is recorded in `data/run/<port>/pids/<name>.json` (its pid, which is also
  its process group and session, its start time and a word of its command line). The next start
  ends every process of those groups that is still there (a pid is taken as ours only when its
  group, session, start time and command line all fit), so a restart after any kill, a lost death
  signal or an nginx worker orphaned by its master's death, comes up clean without a hand.
- A lock held for the supervisor's life (`flock` on `data/run/<port>/serve.lock`, released by the
  kernel however the process ends) and `serve.pid` beside it: a second `kpi serve` on the same port
  learns who runs it and says so.

Nothing here imports streamlit or starts a process; `kpi.serving.serve` does.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from kpi.common import forked
from kpi.common.forked import death_signal  # noqa: F401 - the Popen preexec_fn of every child of the server


def in_child(fn, *args):
    """`fn(*args)` run in a forked child (kpi.common.forked); returns what it returned (picklable). Its exception
    comes back as a RuntimeError with the same message. What `fn` imports and allocates (DuckDB, pandas: a file's
    checks before a start) ends with the child, so the supervisor stays small (issue 29: every process of the
    server counts). The child dies with this process. Call it before starting threads."""
    try:
        return forked.call(fn, *args, name="kpi-check")
    except forked.ChildDied as e:
        raise RuntimeError(f"tiến trình kiểm tra tệp dừng bất thường (mã {e.code})") from e
    except Exception as e:  # noqa: BLE001 - the check's refusal, in its own words
        raise RuntimeError(str(e) or type(e).__name__) from e


# ---- /proc --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Proc:
    """What /proc says about one live process."""

    pid: int
    ppid: int
    pgid: int
    sid: int
    start: int  # clock ticks after boot: with the pid, names one process for good
    cmd: str


def proc(pid: int) -> Proc | None:
    """The live process `pid` (None when gone or a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except (OSError, ValueError):
        return None
    f = stat.rsplit(")", 1)[1].split()
    if f[0] in ("Z", "X"):
        return None
    return Proc(pid, int(f[1]), int(f[2]), int(f[3]), int(f[19]), cmd)


def processes() -> list[Proc]:
    """Every live process this user can see."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit() and (p := proc(int(d))) is not None:
            out.append(p)
    return out


def _tcp(port: int, state: str) -> list[str]:
    """Socket inodes of TCP sockets in `state` (hex, as /proc/net/tcp writes it) on local `port`."""
    inodes = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                f = line.split()
                if f[3] == state and int(f[1].rsplit(":", 1)[1], 16) == port:
                    inodes.append(f[9])
    return inodes


def port_holders(port: int) -> list[Proc]:
    """The processes listening on TCP `port` (those this user can see)."""
    wanted = {f"socket:[{i}]" for i in _tcp(port, "0A")}
    out = []
    for p in processes() if wanted else []:
        with contextlib.suppress(OSError):
            if any(os.readlink(f"/proc/{p.pid}/fd/{fd}") in wanted for fd in os.listdir(f"/proc/{p.pid}/fd")):
                out.append(p)
    return out


def connections(port: int) -> int:
    """Established TCP connections whose local end is `port` (a worker's open requests and websockets)."""
    return len(_tcp(port, "01"))


def port_free(port: int, address: str = "127.0.0.1") -> bool:
    """True when `port` can be bound on `address` now."""
    with socket.socket() as s:
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((address, port))
            return True
        except OSError:
            return False


def describe(p: Proc) -> str:
    """`tiến trình 123 (command…)`, for messages."""
    cmd = " ".join(p.cmd.split())
    cmd = cmd if len(cmd) <= 160 else cmd[:157] + "…"
    return f"tiến trình {p.pid} ({cmd})"


# ---- pid files ----------------------------------------------------------------------------------

def _pid_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "pids"


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)


def record(run_dir: Path, name: str, pid: int, marker: str) -> None:
    """Note the child `pid` (leader of its own session) under `name`; `marker` is a word its
    command line and its group's members' command lines contain."""
    d = _pid_dir(run_dir)
    d.mkdir(parents=True, exist_ok=True)
    p = proc(pid)
    _write_json(d / f"{name}.json", {"pid": pid, "start": p.start if p else 0, "marker": marker})


def forget(run_dir: Path, name: str) -> None:
    """Drop the record `name` (its process was ended here)."""
    (_pid_dir(run_dir) / f"{name}.json").unlink(missing_ok=True)


def group(pid: int, start: int, marker: str) -> list[Proc]:
    """The live processes of the session that `pid` (started at `start`) led: same process group and
    session, started no earlier, `marker` in the command line. Empty when `pid` lives but is not that
    process any more (its number was reused: the group is someone else's)."""
    leader = proc(pid)
    if leader is not None and leader.start != start:
        return []
    return [p for p in processes()
            if p.pgid == pid and p.sid == pid and p.start >= start and marker in p.cmd]


def end_group(pid: int, start: int, marker: str, timeout: float = 5.0) -> list[Proc]:
    """SIGKILL every process of that group and wait until they are gone; returns those ended."""
    members = group(pid, start, marker)
    for p in members:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(p.pid, signal.SIGKILL)
    deadline = time.time() + timeout
    while time.time() < deadline and any((q := proc(p.pid)) is not None and q.start == p.start for p in members):
        time.sleep(0.05)
    return members


def end_leftovers(run_dir: Path) -> list[Proc]:
    """End what an earlier run on this run directory left behind (every recorded group), and drop
    its records; returns the processes ended."""
    ended = []
    d = _pid_dir(run_dir)
    for f in sorted(d.glob("*.json")) if d.exists() else []:
        with contextlib.suppress(OSError, ValueError, KeyError):
            r = json.loads(f.read_text(encoding="utf-8"))
            ended += end_group(int(r["pid"]), int(r["start"]), str(r["marker"]))
        f.unlink(missing_ok=True)
    return ended


# ---- the supervisor's own lock ------------------------------------------------------------------

class RunLock:
    """`data/run/<port>/serve.lock`, held while this `kpi serve` lives, and `serve.pid` naming it."""

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self.fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock (False when another live process holds it); on success write serve.pid."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.run_dir / "serve.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self.fd = fd
        me = proc(os.getpid())
        _write_json(self.run_dir / "serve.pid", {"pid": os.getpid(), "start": me.start if me else 0})
        return True

    def release(self) -> None:
        """Drop serve.pid and the lock (the kernel drops the lock anyway when the process ends)."""
        if self.fd is None:
            return
        (self.run_dir / "serve.pid").unlink(missing_ok=True)
        os.close(self.fd)
        self.fd = None


def running(run_dir: Path) -> Proc | None:
    """The live `kpi serve` that wrote `run_dir/serve.pid`, if it is still that process."""
    with contextlib.suppress(OSError, ValueError, KeyError):
        r = json.loads((Path(run_dir) / "serve.pid").read_text(encoding="utf-8"))
        p = proc(int(r["pid"]))
        if p is not None and p.start == int(r["start"]):
            return p
    return None


def held_message(run_dir: Path, port: int) -> str:
    """The Vietnamese sentence for a second `kpi serve` on a port whose first one lives."""
    p = running(run_dir)
    who = describe(p) if p else "một `kpi serve` khác đang khởi động"
    pid = p.pid if p else "<số tiến trình>"
    return (f"Cổng {port} đang được `kpi serve` phục vụ: {who}. Không khởi động bản thứ hai; "
            f"dừng bản đang chạy trước (Ctrl-C trong cửa sổ của nó hoặc `kill {pid}`), "
            "hoặc chọn cổng khác với --port.")


def busy_port_message(port: int) -> str:
    """The Vietnamese sentence for a port another program holds, naming it when /proc tells."""
    holders = port_holders(port)
    if not holders:
        return f"Cổng {port} đang được một chương trình khác dùng; dừng chương trình đó hoặc chọn cổng khác với --port."
    return (f"Cổng {port} đang được {', '.join(describe(p) for p in holders[:3])} dùng; "
            "dừng chương trình đó hoặc chọn cổng khác với --port.")


def wait_port_free(port: int, address: str, timeout: float) -> bool:
    """Wait up to `timeout` seconds for `port` to become free; True when it is."""
    deadline = time.time() + timeout
    while not port_free(port, address):
        if time.time() >= deadline:
            return False
        time.sleep(0.1)
    return True
