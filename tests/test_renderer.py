"""The server's one chart renderer holds chromium (400-500 MB) only while it draws (issue 29: every process of
the server counts): a batch drawn ahead stops it when nobody waits, an idle one stops after IDLE_STOP_S, and
the figures of the latest requests are answered again without drawing (both workers warm the same packs)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kpi.exports import renderer
from kpi.tools import loadbench
from tests.conftest import ROOT, until

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium missing")


@pytest.fixture()
def shared(tmp_path):
    sock = tmp_path / "renderer.sock"
    proc = subprocess.Popen([sys.executable, "-m", "kpi.exports.renderer", "--socket", str(sock)], cwd=ROOT,
                            env=dict(os.environ, KPI_RENDERER_IDLE_S="3"), stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not sock.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    yield sock, proc
    proc.kill()
    proc.wait()


def _chromium(pid: int) -> list[int]:
    return [p for p in loadbench.tree(pid) if p != pid and "chrom" in loadbench._cmdline(p)]


def _figure(i: int) -> dict:
    return {"data": [{"type": "bar", "x": ["a", "b"], "y": [i, i + 1]}],
            "layout": {"width": 300, "height": 200, "title": {"text": f"biểu đồ {i}"}}}


def test_a_batch_drawn_ahead_stops_chromium_and_is_answered_again_without_it(shared):
    sock, proc = shared
    figs = [_figure(1), _figure(2)]
    first = renderer.render_remote(sock, figs, 300, then_stop=True)
    assert len(first) == 2 and all(p.startswith(b"\x89PNG") for p in first) and first[0] != first[1]
    assert until(lambda: not _chromium(proc.pid), 10)  # drawn ahead, nobody waiting: chromium is gone
    again = renderer.render_remote(sock, figs, 300)
    assert again == first and not _chromium(proc.pid)  # the recent figures, from memory: chromium not started
    drawn = renderer.render_remote(sock, [_figure(3)], 300)  # planted: a new figure, asked for now
    assert drawn[0].startswith(b"\x89PNG") and _chromium(proc.pid)  # chromium runs to draw it and stays
    assert until(lambda: not _chromium(proc.pid), 20)  # until nobody asked for KPI_RENDERER_IDLE_S (3 s)
