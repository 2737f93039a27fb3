"""The login routes served beside the Streamlit app (dashboard.py's `st.App`).

GET /dang-nhap shows the form (and the demo accounts while the sample is loaded); POST checks the
password (bcrypt, slowed down after repeated failures) and sets the signed session in an httponly
cookie; GET /dang-xuat revokes the session and clears the cookie. Plain HTML, no scripts, no
external resources.
"""

from __future__ import annotations

import html

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse
from starlette.routing import Route

from kpi import auth, db, queries

LOGIN_PATH, LOGOUT_PATH = "/dang-nhap", "/dang-xuat"

_PAGE = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Đăng nhập · Bảng điều khiển chuyển đổi số</title>
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
<form method="post" action="{action}">
<label for="user">Tên đăng nhập</label>
<input id="user" name="user" autocomplete="username" value="{user}" required autofocus>
<label for="password">Mật khẩu</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Đăng nhập</button>
</form>
{error}{demo}
</main></body></html>"""


def _page(request_user: str = "", error: str = "", status: int = 200) -> HTMLResponse:
    path = db.db_path()
    unit, demo = "", ""
    if path.exists():
        con = db.connect(path)
        try:
            meta = queries.meta(con)
            unit = meta.get("unit_name", "")
            if meta.get("is_sample") == "true":
                rows = "".join(
                    f"<tr><td><code>{html.escape(u)}</code></td><td>{html.escape(d)}</td></tr>"
                    for u, d, *_ in auth.demo_users(con))
                demo = (f'<div class="demo"><b>Dữ liệu mẫu</b>: tài khoản thử, mật khẩu '
                        f"<code>{auth.DEMO_PASSWORD}</code><table>{rows}</table></div>")
        finally:
            con.close()
    body = _PAGE.format(unit=html.escape(unit), action=LOGIN_PATH, user=html.escape(request_user),
                        error=f'<div class="err" role="alert">{html.escape(error)}</div>' if error else "",
                        demo=demo)
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


async def login(request: Request):
    if request.method == "GET":
        return _page()
    form = await request.form()
    name, password = str(form.get("user", "")).strip(), str(form.get("password", ""))
    con = db.connect(db.db_path())
    try:
        user = auth.authenticate(con, name, password)
    except auth.AuthError as e:
        return _page(name, str(e), status=401)
    finally:
        con.close()
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(auth.COOKIE, auth.sessions().issue(user.user_name), httponly=True, samesite="lax",
                        max_age=int(auth.sessions().lifetime), path="/")
    return response


async def logout(request: Request):
    auth.sessions().revoke(request.cookies.get(auth.COOKIE))
    response = RedirectResponse(LOGIN_PATH, status_code=303)
    response.delete_cookie(auth.COOKIE, path="/")
    return response


ROUTES = [Route(LOGIN_PATH, login, methods=["GET", "POST"]), Route(LOGOUT_PATH, logout, methods=["GET"])]
