"""A PostgreSQL server of its own for the tests and the load bench: Debian's `postgresql` binaries, a
cluster made by initdb in a temporary folder, the server listening on a Unix socket in that folder only
(no TCP port), stopped at the end. The server dies with the process that started it
(PR_SET_PDEATHSIG): a run killed halfway leaves no server behind. As root it runs as the `postgres`
system user, since initdb and postgres refuse root.

A fresh database is `CREATE DATABASE ... TEMPLATE` of a template, a few tens of milliseconds."""

from __future__ import annotations

import ctypes
import glob
import itertools
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

MISSING = ("PostgreSQL không có trên máy này (không thấy initdb/postgres của gói Debian postgresql): cài nó bằng "
           "`make sysdeps` (hoặc apt-get install postgresql) rồi chạy lại kiểm thử.")


def binaries() -> Path | None:
    """The folder of initdb and postgres (the newest Debian version), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(Path(p).parts[4]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("postgres")
    return Path(on_path).parent if on_path and shutil.which("initdb") else None


def _as_owner(uid: int | None, gid: int | None, death_signal: int | None):
    """preexec_fn: become the owner (root cannot run postgres), then die with the parent."""
    def run():
        if uid is not None:
            os.setgid(gid)
            os.setuid(uid)
        if death_signal is not None:  # after setuid: a credential change clears it
            ctypes.CDLL(None, use_errno=True).prctl(1, death_signal)  # PR_SET_PDEATHSIG
            if os.getppid() == 1:  # the parent is already gone
                os.kill(os.getpid(), death_signal)
    return run


class Server:
    """One PostgreSQL cluster in a temporary folder, on a Unix socket there."""

    def __init__(self):
        bindir = binaries()
        if bindir is None:
            raise RuntimeError(MISSING)
        self.bin = bindir
        self.folder = Path(tempfile.mkdtemp(prefix="kpi-pg-", dir="/tmp"))  # a socket path is at most 107 bytes
        self.uid = self.gid = None
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            self.uid, self.gid = owner.pw_uid, owner.pw_gid
            os.chown(self.folder, self.uid, self.gid)
        self.proc: subprocess.Popen | None = None
        self._names = itertools.count(1)

    def start(self) -> Server:
        data = self.folder / "data"
        subprocess.run([str(self.bin / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                        "--locale=C", "--no-sync", "--no-instructions"], check=True, capture_output=True,
                       preexec_fn=_as_owner(self.uid, self.gid, None), cwd="/")
        self.proc = subprocess.Popen(
            [str(self.bin / "postgres"), "-D", str(data), "-k", str(self.folder), "-c", "listen_addresses=",
             "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
             "-c", "max_connections=60", "-c", "shared_buffers=32MB"],
            stdout=subprocess.DEVNULL, stderr=open(self.folder / "server.log", "wb"), cwd="/",
            preexec_fn=_as_owner(self.uid, self.gid, signal.SIGQUIT))
        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(self.url("postgres"), connect_timeout=2).close()
                return self
            except psycopg.OperationalError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    log = (self.folder / "server.log").read_text(errors="replace")[-2000:]
                    self.stop()
                    raise RuntimeError(f"PostgreSQL did not start:\n{log}") from None
                time.sleep(0.05)

    def url(self, dbname: str) -> str:
        """A libpq URL of one database, through the socket folder."""
        return f"postgresql://postgres@/{dbname}?host={self.folder}"

    def admin(self, statement: str) -> None:
        """One statement on the maintenance database (CREATE / DROP DATABASE: no transaction)."""
        with psycopg.connect(self.url("postgres"), autocommit=True) as con:
            con.execute(statement)

    def new_database(self, template: str = "template1") -> str:
        """A fresh database copied from `template`; returns its URL."""
        name = f"t{os.getpid()}_{next(self._names)}"
        self.admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return self.url(name)

    def drop(self, url: str) -> None:
        self.admin(f'DROP DATABASE IF EXISTS "{dbname(url)}" WITH (FORCE)')

    def stop(self) -> None:
        """Stop the server (immediate: nothing to keep) and remove its folder."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def dbname(url: str) -> str:
    """The database name of a URL made by Server.url."""
    return urlsplit(url).path.lstrip("/")
