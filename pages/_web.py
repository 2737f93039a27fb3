"""The login routes served beside the Streamlit app (dashboard.py's `st.App`).

GET /dang-nhap shows the form (and the demo accounts while the sample is loaded); POST checks the
password (bcrypt, off the event loop, slowed down after repeated failures per account and per
client address) and sets a new signed session in an httponly cookie (Secure over https);
POST /dang-xuat revokes the session in the shared state store, so every worker refuses it, and
clears the cookie; GET /dang-xuat only asks to confirm (a link on another site ends nothing). Both
POSTs carry a CSRF token and are refused from another origin (pages/_csrf.py). Logins, refusals
and logouts are audited. Plain HTML, no scripts, no external resources.
"""

from __future__ import annotations

import contextlib
import html
import os

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse
from starlette.routing import Route

from kpi.admin import auth
from kpi.common import faults
from kpi.store import db, queries
from kpi.views import cache as views
from pages import _csrf as csrf

LOGIN_PATH, LOGOUT_PATH = "/dang-nhap", "/dang-xuat"

_PAGE = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Bảng điều khiển chuyển đổi số</title>
<style>
body {{ font-family: "DejaVu Sans", Arial, sans-serif; background: #f5f6f8; color: #1f2937; margin: 0; }}
main {{ max-width: 420px; margin: 6vh auto; background: #fff; padding: 28px; border-radius: 10px;
        box-shadow: 0 1px 4px rgba(0,0,0,.12); }}
h1 {{ font-size: 1.35rem; margin: 0 0 4px; }} p.sub {{ color: #555; margin: 0 0 20px; }}
label {{ display: block; margin: 14px 0 4px; font-weight: 600; }}
input {{ width: 100%; box-sizing: border-box; padding: 10px; font-size: 1rem; border: 1px solid #bbb;
         border-radius: 6px; }}
button {{ margin-top: 20px; width: 100%; padding: 11px; font-size: 1rem; background: #0072B2; color: #fff;
          border: 0; border-radius: 6px; cursor: pointer; }}
.err {{ background: #fdecea; color: #8a1f11; padding: 10px; border-radius: 6px; margin-top: 12px; }}
.demo {{ margin-top: 22px; font-size: .9rem; background: #fff7e6; padding: 10px 12px; border-radius: 6px; }}
.demo code {{ font-size: .9rem; }} table {{ border-collapse: collapse; }} td {{ padding: 2px 8px 2px 0; }}
</style></head>
<body><main>
<h1>Bảng điều khiển chuyển đổi số</h1>
<p class="sub">{unit}</p>
<p>Vui lòng đăng nhập để xem số liệu.</p>
<form method="post" action="{action}">
<input type="hidden" name="csrf" value="__CSRF_TOKEN__">
<label for="user">Tên đăng nhập</label>
<input id="user" name="user" autocomplete="username" value="{user}" required autofocus>
<label for="password">Mật khẩu</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Đăng nhập</button>
</form>
{error}{demo}
</main></body></html>"""
_LOGOUT_FORM = """<h1>Đăng xuất</h1>
<p class="sub">Bạn muốn đăng xuất khỏi bảng điều khiển?</p>
{error}<form method="post" action="{action}">
<input type="hidden" name="csrf" value="__CSRF_TOKEN__">
<button type="submit">Đăng xuất</button>
</form>
<p><a href="/">Quay lại bảng điều khiển</a></p>"""


_FACTS: dict[tuple, tuple[str, str]] = {}


def _login_facts() -> tuple[str, str]:
    """(unit name, demo accounts HTML) of the current database file, read once per file version."""
    path = db.db_path()
    identity = db.file_identity(path)
    if identity is None:
        return "", ""
    key = (str(path), identity)
    if key not in _FACTS:
        con = db.connect(path)
        try:
            meta = queries.meta(con)
            demo = ""
            if meta.get("is_sample") == "true":
                rows = "".join(
                    f"<tr><td><code>{html.escape(u)}</code></td><td>{html.escape(d)}</td></tr>"
                    for u, d, *_ in auth.demo_users(con))
                demo = (f'<div class="demo"><b>Dữ liệu mẫu</b>: tài khoản thử, mật khẩu '
                        f"<code>{auth.DEMO_PASSWORD}</code><table>{rows}</table></div>")
        finally:
            con.close()
        _FACTS.clear()
        _FACTS[key] = (meta.get("unit_name", ""), demo)
    return _FACTS[key]


def _page(request_user: str = "", error: str = "", status: int = 200) -> HTMLResponse:
    unit, demo = _login_facts()
    body = _PAGE.format(title="Đăng nhập", unit=html.escape(unit), action=LOGIN_PATH,
                        user=html.escape(request_user[:64]),
                        error=f'<div class="err" role="alert">{html.escape(error)}</div>' if error else "",
                        demo=demo)
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def client_address(request) -> str | None:
    """The browser's address: the proxy's X-Real-IP when the request came through the local nginx
    (workers listen on loopback only), else the peer address."""
    peer = request.client.host if request.client else None
    forwarded = request.headers.get("x-real-ip")
    if forwarded and peer in ("127.0.0.1", "::1"):
        return forwarded[:64]
    return peer


def _secure(request) -> bool:
    """Whether the session cookie gets the Secure flag: $KPI_HTTPS=1, or the front says https."""
    return os.environ.get("KPI_HTTPS") == "1" or request.headers.get("x-forwarded-proto") == "https"


def _check_login(name: str, password: str, client: str | None):
    v = views.views_for(db.db_path())  # the worker's shared connection and its cached users rows
    return auth.authenticate(v.con, name, password, client=client, lookup=v.user)


async def login(request: Request):
    if request.method == "GET":
        return _page()
    form = await request.form()
    name, password = str(form.get("user", "")).strip()[:64], str(form.get("password", ""))[:256]
    client = client_address(request)
    store = auth.sessions().store
    try:  # bcrypt and the database off the event loop: other sessions keep being served meanwhile
        user = await run_in_threadpool(_check_login, name, password, client)
    except auth.AuthError as e:
        await run_in_threadpool(store.audit, "dang_nhap_sai", name or None, None, client)
        return _page(name, str(e), status=401)
    old = request.cookies.get(auth.COOKIE)
    if old:
        auth.sessions().revoke(old, "dang_nhap_lai")
    token = await run_in_threadpool(auth.sessions().issue, user.user_name, client)
    await run_in_threadpool(store.audit, "dang_nhap", user.user_name, None, client)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(auth.COOKIE, token, httponly=True, samesite="lax", secure=_secure(request),
                        max_age=int(auth.sessions().lifetime), path="/")
    return response


async def logout(request: Request):
    if request.method == "GET":  # a link (maybe on another site) only asks; the form below posts
        return _logout_page()
    name = auth.sessions().revoke(request.cookies.get(auth.COOKIE))
    if name:
        auth.sessions().store.audit("dang_xuat", name, None, client_address(request))
    response = RedirectResponse(LOGIN_PATH, status_code=303)
    response.delete_cookie(auth.COOKIE, path="/", httponly=True, samesite="lax", secure=_secure(request))
    return response


def _said(handler):
    """The route, answering a Vietnamese page (never "500 Internal Server Error") when the state store
    cannot be written (disk full, read-only, locked too long: kpi.common.faults, the cause in the server log)."""
    async def route(request: Request):
        try:
            return await handler(request)
        except faults.StoreUnavailable as e:
            if handler is logout:  # the browser forgets its session all the same
                response = _page("", f"Đã đăng xuất trên trình duyệt này. {e}", status=503)
                response.delete_cookie(auth.COOKIE, path="/", httponly=True, samesite="lax", secure=_secure(request))
                return response
            form = await request.form()
            return _page(str(form.get("user", "")).strip()[:64], f"Chưa đăng nhập được. {e}", status=503)
    return route



def _logout_page(error: str = "", status: int = 200) -> HTMLResponse:
    main = _LOGOUT_FORM.format(action=LOGOUT_PATH, error=f'<div class="err" role="alert">{html.escape(error)}</div>'
                               if error else "")
    head, _, tail = _PAGE.partition("<main>")
    body = head.format(title="Đăng xuất") + "<main>" + main + "</main></body></html>"
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


async def _refused(request: Request, why: str) -> HTMLResponse:
    """A cross-site or tokenless POST: nothing happens, the form is shown again with why (audited)."""
    form = await request.form()
    name = str(form.get("user", "")).strip()[:64] or None
    with contextlib.suppress(faults.StoreUnavailable):  # a refusal is said even when the store cannot be written
        await run_in_threadpool(auth.sessions().store.audit, "tu_choi_csrf", name, {"duong_dan": request.url.path},
                                client_address(request))
    if request.url.path == LOGOUT_PATH:
        return _logout_page(why, status=403)
    return _page(name or "", why, status=403)


def logout_form(csrf_cookie: str | None) -> str:
    """The sidebar's "Đăng xuất": a small form posting to /dang-xuat with the browser's token (HTML
    for st.markdown(unsafe_allow_html=True)); without a token cookie, a link to the confirm page."""
    field = csrf.token(csrf_cookie)
    if not field:
        return f'<a href="{LOGOUT_PATH}" target="_self">Đăng xuất</a>'
    return (f'<form method="post" action="{LOGOUT_PATH}" style="margin:0">'
            f'<input type="hidden" name="{csrf.FIELD}" value="{field}">'
            '<button type="submit" style="background:none;border:0;padding:0;color:inherit;font:inherit;'
            'text-decoration:underline;cursor:pointer">Đăng xuất</button></form>')


CSRF_COOKIE = csrf.COOKIE  # for pages that draw the logout form


ROUTES = [Route(LOGIN_PATH, csrf.guard(_said(login), _refused, _secure), methods=["GET", "POST"]),
          Route(LOGOUT_PATH, csrf.guard(_said(logout), _refused, _secure), methods=["GET", "POST"])]
