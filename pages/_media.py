"""Streamlit's /media/ answers (downloads: evidence files, exports, templates) only to a live session.

Streamlit serves every st.download_button file (and st.image, st.audio) from `/media/<id>` to
anyone holding the URL, with no `X-Content-Type-Options`. This ASGI middleware (dashboard.py's
`st.App`) answers 403 unless the request carries the session cookie of a live session (signed,
not expired or revoked, its account still active: the same check as every page run), and adds
`X-Content-Type-Options: nosniff`, `Content-Disposition: attachment` when Streamlit set none (an
<img> ignores it, a browser opening the URL downloads instead of rendering) and
`Cache-Control: private, no-store` to every media answer.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection

from kpi.admin import auth
from kpi.store import db
from kpi.views import cache as views

REFUSED = ("Tệp này chỉ tải được khi đang đăng nhập: phiên của bạn đã kết thúc hoặc liên kết không thuộc phiên nào. "
           "Đăng nhập lại rồi tải lại từ trang của ứng dụng.").encode("utf-8")


def is_media(path: str) -> bool:
    """Whether a request path is Streamlit's media endpoint (with or without a base URL)."""
    return "/media/" in path


def live_user(token: str | None):
    """The active user behind a session cookie, or None (bad, expired, revoked, disabled)."""
    path = db.db_path()
    identity = db.file_identity(path)
    if identity is None or not token:
        return None
    name = auth.sessions().check(token)
    if name is None:
        return None
    row = views.views_for(path, identity).user(name)
    return auth.user_from_row(row) if row is not None and row["active"] else None


class MediaGuard:
    """ASGI middleware: /media/ only for a live session, always nosniff and attachment."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not is_media(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        token = HTTPConnection(scope).cookies.get(auth.COOKIE)
        if scope.get("method") != "OPTIONS" and await run_in_threadpool(live_user, token) is None:
            await send({"type": "http.response.start", "status": 403, "headers": [
                (b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(REFUSED)).encode()),
                (b"x-content-type-options", b"nosniff"), (b"cache-control", b"no-store")]})
            await send({"type": "http.response.body", "body": REFUSED})
            return

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Cache-Control"] = "private, no-store"
                if "content-disposition" not in headers:
                    headers["Content-Disposition"] = "attachment"
            await send(message)

        await self.app(scope, receive, send_with_headers)
