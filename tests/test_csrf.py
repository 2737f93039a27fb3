"""Cross-site requests (issue 24 item 4): the login form carries a CSRF token and checks Origin /
Referer; logout is a POST with a token, and a GET of /dang-xuat (a link on any site) ends nothing.

The attacks run over HTTP against the real app (`streamlit run dashboard.py` on a private copy of
the sample); the same checks run in-process against the same routes with a planted defect (the
check made a no-op, logout back to a GET) and must fail there.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

import pytest

from kpi.admin import auth
from kpi.store import state
from tests.conftest import run_async

ROOT = Path(__file__).resolve().parents[1]
OTHER = "http://may-khac.example"


# ---- two ways to reach the routes: the real server, and in-process (for the planted defects) ---------

class Client:
    """A browser reduced to what matters here: a cookie jar, and requests with chosen headers."""

    def __init__(self, host: str):
        self.host, self.cookies = host, {}

    def send(self, method: str, path: str, form: dict | None = None, **headers) -> tuple[int, dict, str]:
        body = urlencode(form).encode() if form is not None else b""
        head = {"Host": self.host, **{k.replace("_", "-"): v for k, v in headers.items()}}
        if form is not None:
            head["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            head["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        status, out, text = self._raw(method, path, head, body)
        for c in out.get("set-cookie", []):
            name, _, value = c.split(";", 1)[0].partition("=")
            if "max-age=0" in c.lower() or "01 jan 1970" in c.lower() or value in ("", '""'):
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return status, out, text

    def form_token(self, path: str = "/dang-nhap") -> str:
        status, _, text = self.send("GET", path)
        assert status == 200, text[:300]
        return re.search(r'name="csrf" value="([^"]*)"', text).group(1)


class HTTPClient(Client):
    def _raw(self, method, path, head, body):
        conn = http.client.HTTPConnection(self.host, timeout=60)
        try:
            conn.request(method, path, body=body, headers=head)
            r = conn.getresponse()
            out = {"set-cookie": []}
            for k, v in r.getheaders():
                if k.lower() == "set-cookie":
                    out["set-cookie"].append(v)
                else:
                    out[k.lower()] = v
            return r.status, out, r.read().decode("utf-8", "replace")
        finally:
            conn.close()


class ASGIClient(Client):
    def __init__(self, host: str, app):
        super().__init__(host)
        self.app = app

    def _raw(self, method, path, head, body):
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
                 "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
                 "root_path": "", "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 80),
                 "headers": [(k.lower().encode(), str(v).encode()) for k, v in head.items()]}
        sent, got = [], [{"type": "http.request", "body": body, "more_body": False}]

        async def receive():
            return got.pop(0) if got else {"type": "http.disconnect"}

        async def send(message):
            sent.append(message)

        run_async(self.app(scope, receive, send))
        start = next(m for m in sent if m["type"] == "http.response.start")
        out = {"set-cookie": []}
        for k, v in start["headers"]:
            if k.decode().lower() == "set-cookie":
                out["set-cookie"].append(v.decode())
            else:
                out[k.decode().lower()] = v.decode()
        text = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body").decode()
        return start["status"], out, text


# ---- the checks (each returns nothing or fails) ------------------------------------------------------

def check_login_form_carries_a_token(c: Client) -> None:
    status, out, text = c.send("GET", "/dang-nhap")
    cookie = next(v for v in out["set-cookie"] if v.startswith("kpi_csrf="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    sent = re.search(r'name="csrf" value="([^"]*)"', text).group(1)
    raw = c.cookies["kpi_csrf"]
    mac = hmac.new(auth.sessions().key, b"csrf:" + raw.encode(), hashlib.sha256).digest()
    assert sent and hmac.compare_digest(sent, __import__("base64").urlsafe_b64encode(mac).decode().rstrip("="))


def check_cross_site_login_refused(c: Client) -> None:
    token = c.form_token()
    good = {"user": "chuyenvien", "password": "dulieumau"}
    for form, headers, says in [
        (good, {"Origin": OTHER}, "đến từ một trang web khác"),                       # login CSRF
        ({**good, "csrf": token}, {"Origin": OTHER}, "đến từ một trang web khác"),    # even with a token
        ({**good, "csrf": token}, {"Origin": "null"}, "đến từ một trang web khác"),   # a sandboxed frame
        ({**good, "csrf": token}, {"Referer": OTHER + "/trang"}, "đến từ một trang web khác"),
        (good, {}, "thiếu mã xác nhận"),                                              # no token at all
        ({**good, "csrf": "gia-mao"}, {}, "thiếu mã xác nhận"),
    ]:
        status, out, text = c.send("POST", "/dang-nhap", form, **headers)
        assert status == 403 and says in text, (headers, status, text[:400])
        assert not any(v.startswith(f"{auth.COOKIE}=") for v in out["set-cookie"]), headers
        assert "Traceback" not in text and "Error" not in text


def check_attackers_own_token_is_refused(c: Client, attacker: Client) -> None:
    """A token fetched by the attacker's browser does not go with the victim's cookie."""
    c.form_token()
    stolen = attacker.form_token()
    status, out, text = c.send("POST", "/dang-nhap", {"user": "chuyenvien", "password": "dulieumau",
                                                       "csrf": stolen})
    assert status == 403 and "thiếu mã xác nhận" in text


def check_own_login_works(c: Client) -> None:
    """The app's own form: same Origin with its token; and without Origin or Referer, the token alone."""
    for headers in ({"Origin": f"http://{c.host}", "Referer": f"http://{c.host}/dang-nhap"}, {}):
        token = c.form_token()
        status, out, _ = c.send("POST", "/dang-nhap", {"user": "chuyenvien", "password": "dulieumau", "csrf": token},
                                **headers)
        assert status == 303 and auth.COOKIE in c.cookies, headers


def session_alive(store: state.Store, token: str) -> bool:
    sid = auth.session_id(token)
    return store.read("SELECT revoked_at IS NULL FROM sessions WHERE session_id = ?", (sid,)) == [(1,)]


def check_logout_is_a_post_with_a_token(c: Client, store: state.Store) -> None:
    check_own_login_works(c)
    session = c.cookies[auth.COOKIE]
    status, _, text = c.send("GET", "/dang-xuat", Referer=OTHER + "/")  # a link on another site
    assert status == 200 and 'method="post"' in text and "Bạn muốn đăng xuất" in text
    assert session_alive(store, session) and c.cookies.get(auth.COOKIE) == session
    token = re.search(r'name="csrf" value="([^"]*)"', text).group(1)
    for form, headers in [({"csrf": token}, {"Origin": OTHER}), ({}, {}), ({"csrf": "x" * 43}, {})]:
        status, _, text = c.send("POST", "/dang-xuat", form, **headers)
        assert status == 403 and session_alive(store, session), (form, headers)
    status, out, _ = c.send("POST", "/dang-xuat", {"csrf": token}, Origin=f"http://{c.host}")
    assert status == 303 and out["location"] == "/dang-nhap"
    assert not session_alive(store, session) and auth.COOKIE not in c.cookies


# ---- against the real server ---------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(sample_db, tmp_path_factory):
    """`streamlit run dashboard.py` on a private copy of the sample and its store: (host, store)."""
    path = tmp_path_factory.mktemp("csrf") / "app.duckdb"
    path.write_bytes(sample_db.read_bytes())
    state.store_for(sample_db).copy_to(state.state_path(path))
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard.py"), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=dict(os.environ, KPI_DB=str(path)), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 90
        while True:
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    pytest.fail("streamlit did not start")
                time.sleep(0.3)
        yield f"127.0.0.1:{port}", state.Store(state.state_path(path))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_login_form_carries_a_token(served):
    check_login_form_carries_a_token(HTTPClient(served[0]))


def test_cross_site_login_is_refused_in_vietnamese(served):
    check_cross_site_login_refused(HTTPClient(served[0]))
    rows = served[1].read("SELECT count(*) FROM audit WHERE action = 'tu_choi_csrf'")
    assert rows[0][0] >= 6


def test_a_token_of_another_browser_is_refused(served):
    check_attackers_own_token_is_refused(HTTPClient(served[0]), HTTPClient(served[0]))


def test_own_form_logs_in(served):
    check_own_login_works(HTTPClient(served[0]))


def test_logout_is_a_post_with_a_token(served):
    check_logout_is_a_post_with_a_token(HTTPClient(served[0]), served[1])


# ---- planted defects, in-process on the same routes -----------------------------------------------------

@pytest.fixture()
def routes_app(entry_db, monkeypatch):
    from starlette.applications import Starlette

    from pages import _web

    monkeypatch.setenv("KPI_DB", str(entry_db))
    return lambda routes=None: ASGIClient("127.0.0.1:8501", Starlette(routes=routes or _web.ROUTES))


def test_the_checks_pass_in_process(routes_app, entry_db):
    check_cross_site_login_refused(routes_app())
    check_logout_is_a_post_with_a_token(routes_app(), state.store_for(entry_db))


def test_planted_no_check_is_caught(routes_app, monkeypatch):
    from pages import _csrf

    monkeypatch.setattr(_csrf, "refusal", lambda *a: None)
    with pytest.raises(AssertionError):
        check_cross_site_login_refused(routes_app())


def test_planted_logout_by_get_is_caught(routes_app, entry_db):
    from starlette.routing import Route

    from pages import _web

    async def old_logout(request):  # the logout as it was: any GET ends the session
        request.scope["method"] = "POST"
        return await _web.logout(request)

    routes = [r for r in _web.ROUTES if r.path != _web.LOGOUT_PATH] + [Route(_web.LOGOUT_PATH, old_logout,
                                                                                methods=["GET", "POST"])]
    with pytest.raises(AssertionError):
        check_logout_is_a_post_with_a_token(routes_app(routes), state.store_for(entry_db))
