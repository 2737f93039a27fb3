"""Cross-site request forgery: logins and logouts are POSTs that only this app's own pages can make.

A browser gets a random cookie (`kpi_csrf`, httponly, SameSite=Lax) the first time it opens a form
of the app. Each form carries a field derived from that cookie with the server's secret (HMAC), so
another site can neither read it nor make one up, not even by planting a cookie of its own. A POST
is accepted only when the field matches the browser's cookie and the request says it comes from
the app itself: its Origin (or, without one, its Referer) names the host the request was sent to;
a request with neither (some privacy settings strip both) is judged by the token alone.
A refusal is a Vietnamese sentence, audited.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse

from kpi.admin import auth

COOKIE, FIELD = "kpi_csrf", "csrf"
SLOT = "__CSRF_TOKEN__"  # where a page's template puts the token; filled in per browser by `guard`
LIFETIME = 30 * 24 * 3600
_WELL_FORMED = re.compile(r"[A-Za-z0-9_\-]{32,64}")

CROSS_SITE = ("Yêu cầu này đến từ một trang web khác, không phải từ trang của hệ thống, nên đã bị từ chối. "
              "Nếu bạn muốn đăng nhập hoặc đăng xuất, hãy mở trực tiếp địa chỉ của hệ thống rồi làm lại.")
NO_TOKEN = ("Trang bạn gửi đã cũ hoặc không phải trang của hệ thống (thiếu mã xác nhận), nên yêu cầu đã bị từ "
            "chối. Hãy làm lại trên trang này.")


def token(cookie: str | None) -> str:
    """The form field that goes with the browser's CSRF cookie ('' without a cookie)."""
    if not isinstance(cookie, str) or not _WELL_FORMED.fullmatch(cookie):
        return ""
    mac = hmac.new(auth.sessions().key, b"csrf:" + cookie.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode("ascii").rstrip("=")


def _same_origin(url: str, host: str) -> bool:
    """Whether `url` (an Origin or a Referer) names the host the request was sent to (its Host)."""
    o, h = urlsplit(url), urlsplit("//" + host)
    try:
        o_port, h_port = o.port or {"http": 80, "https": 443}.get(o.scheme), h.port
    except ValueError:
        return False
    if o.scheme not in ("http", "https") or not o.hostname or o.hostname != h.hostname:
        return False  # 'null' (a sandboxed frame, a file), another host, or anything else
    # the local nginx forwards $host, which has no port: then the host name alone must agree
    return h_port is None or o_port == h_port


def refusal(request: Request, form) -> str | None:
    """Why a POST is refused as cross-site (Vietnamese), or None when it came from the app's own page."""
    host = request.headers.get("host", "")
    origin = request.headers.get("origin")
    referer = request.headers.get("referer")
    if origin is not None and not _same_origin(origin, host):
        return CROSS_SITE
    if origin is None and referer and not _same_origin(referer, host):
        return CROSS_SITE
    sent, expected = str(form.get(FIELD, "")), token(request.cookies.get(COOKIE))
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        return NO_TOKEN
    return None


def guard(handler, refused, secure):
    """Wrap a route: a POST passes `refusal` first (else `refused(request, why)` answers); every HTML
    answer gets the browser's token in its SLOT, and a browser without a CSRF cookie gets one
    (Secure when `secure(request)`)."""
    async def guarded(request: Request):
        if request.method == "POST":
            why = refusal(request, await request.form())  # Starlette keeps the parsed form for the handler
            response = await refused(request, why) if why else await handler(request)
        else:
            response = await handler(request)
        cookie = request.cookies.get(COOKIE)
        fresh = not (cookie and _WELL_FORMED.fullmatch(cookie))
        if fresh:
            cookie = secrets.token_urlsafe(32)
        if isinstance(response, HTMLResponse) and SLOT.encode() in response.body:
            body = response.body.replace(SLOT.encode(), token(cookie).encode())
            response.body = body
            response.headers["content-length"] = str(len(body))
        if fresh:
            response.set_cookie(COOKIE, cookie, max_age=LIFETIME, path="/", httponly=True, samesite="lax",
                                secure=secure(request))
        return response

    guarded.__name__ = handler.__name__
    return guarded

