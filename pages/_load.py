"""Simulated browsers for `python -m kpi bench --load` (Streamlit's wire protocol lives here, beside
the other Streamlit glue, so that kpi/ never imports streamlit).

Each simulated browser does what a person's browser does: GET / (which pins it to a worker),
the login form (POST /dang-nhap), then Streamlit's websocket with the rerun messages a browser
sends: opening a page of the app's navigation, changing a filter (the selectbox's widget state),
following a link with query parameters, and now and then a new page load (a new websocket). It
keeps the hashes of the large messages it was sent and reports them on every rerun, like the
browser's message cache. Between actions it waits a think time. It records per page and role the
time from sending a rerun to the script's end, and every error: exception elements, st.error
boxes, a page not found, a session sent back to the login page, timeouts and disconnects.

    python -m pages._load --url http://127.0.0.1:8501 --plan plan.json --out result.json
    python -m pages._load --browser --url ... --plan plan.json --out result.json   (one Chromium)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import time
import urllib.parse
from dataclasses import dataclass, field

import websockets
from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from kpi.tools.loadbench import LIGHT_PAGES, cpu_seconds, server_processes

RUN_TIMEOUT = 60.0
LOGIN_TEXT = "Vui lòng đăng nhập"
BUSY_TEXT = "Máy chủ đang bận"
# the refusal of a stale save (kpi.workflows.entry._conflict_text): another window of the same school saved first;
# the page is right to refuse it, so the bench counts it apart from errors and reloads, as the text asks
CONFLICT_TEXT = "tải lại để xem"


# ---- a tiny HTTP/1.1 client (one request per connection; enough for a login form) ------------

async def http(method: str, url: str, cookies: dict, body: dict | None = None,
               timeout: float = 60.0) -> tuple[int, dict, bytes]:
    """(status, headers (lower-case; set-cookie as a list), body); updates `cookies`."""
    u = urllib.parse.urlsplit(url)
    reader, writer = await asyncio.wait_for(asyncio.open_connection(u.hostname, u.port or 80), timeout)
    try:
        data = urllib.parse.urlencode(body).encode() if body is not None else b""
        path = u.path + (f"?{u.query}" if u.query else "")
        head = [f"{method} {path or '/'} HTTP/1.1", f"Host: {u.netloc}", "Connection: close",
                "User-Agent: kpi-load/1", "Accept: text/html,*/*"]
        if cookies:
            head.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in cookies.items()))
        if body is not None:
            head += ["Content-Type: application/x-www-form-urlencoded", f"Content-Length: {len(data)}"]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + data)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()
    header_part, _, rest = raw.partition(b"\r\n\r\n")
    lines = header_part.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers: dict = {"set-cookie": []}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        k, v = k.strip().lower(), v.strip()
        if k == "set-cookie":
            headers["set-cookie"].append(v)
            name, _, value = v.split(";", 1)[0].partition("=")
            if "max-age=0" in v.lower() or "expires=thu, 01 jan 1970" in v.lower():
                cookies.pop(name.strip(), None)
            else:
                cookies[name.strip()] = value.strip()
        else:
            headers[k] = v
    if headers.get("transfer-encoding") == "chunked":
        out, buf = b"", rest
        while buf:
            size_line, _, buf = buf.partition(b"\r\n")
            size = int(size_line.split(b";")[0] or b"0", 16)
            if size == 0:
                break
            out, buf = out + buf[:size], buf[size + 2:]
        rest = out
    return status, headers, rest


# ---- saving a draft: the widgets rerun() does not keep -------------------------------------------

SAVE_SHARE = 0.3                       # of a principal's actions
SAVE_INPUT, SAVE_BUTTON = "nsl_hs_tong", "nsl_save"
SAVE_LABEL = "Nộp số liệu · lưu nháp"  # the page-run label of a save (kpi.tools.loadbench counts them)
RELOAD_BUTTON, RELOAD_LABEL = "nsl_reload_btn", "Nộp số liệu · tải lại"
LIGHT_SHARE, LIGHT_LABEL = 0.05, LIGHT_PAGES[0]  # a light page: Đổi mật khẩu, a form


class _Tap:
    """Stands for a browser's websocket during a save: notes the text inputs (id, value) and buttons
    the page draws and the success boxes it shows, and adds a button's press (`press`: its id) to the
    next rerun sent, as a browser sends a click together with the values typed."""

    def __init__(self, ws):
        self.ws, self.inputs, self.buttons, self.successes, self.press = ws, {}, {}, [], None

    async def send(self, data: bytes) -> None:
        if self.press:
            msg = BackMsg()
            msg.ParseFromString(data)
            if msg.WhichOneof("type") == "rerun_script":
                w = msg.rerun_script.widget_states.widgets.add()
                w.id, w.trigger_value = self.press, True
                data, self.press = msg.SerializeToString(), None
        await self.ws.send(data)

    async def recv(self):
        raw = await self.ws.recv()
        fm = ForwardMsg()
        fm.ParseFromString(raw)
        if fm.WhichOneof("type") == "delta" and fm.delta.WhichOneof("type") == "new_element":
            el = fm.delta.new_element
            et = el.WhichOneof("type")
            if et == "text_input":
                ti = el.text_input
                self.inputs[ti.id.rsplit("-", 1)[-1]] = (ti.id, ti.value if ti.set_value else "")
            elif et == "button":
                self.buttons[el.button.id.rsplit("-", 1)[-1]] = el.button.id
            elif et == "alert" and el.alert.format == Alert.SUCCESS:
                self.successes.append(el.alert.body)
        return raw

    async def close(self) -> None:
        await self.ws.close()


# ---- one simulated browser -------------------------------------------------------------------

@dataclass
class Result:
    """What every browser measured."""

    runs: list = field(default_factory=list)        # (page label, role, seconds, started at)
    logins: list = field(default_factory=list)      # seconds of POST /dang-nhap
    index_loads: list = field(default_factory=list)  # seconds of GET /
    errors: list = field(default_factory=list)      # (kind, page label, role, detail)
    busy: int = 0                                   # runs that showed the "server busy" notice
    conflicts: int = 0                              # stale saves refused (two windows of one school)


class Browser:
    """One person's browser: cookies, a websocket, the widgets and pages of the last run."""

    def __init__(self, base: str, user: dict, plan: dict, result: Result, rng: random.Random):
        self.base, self.user, self.plan, self.result, self.rng = base, user, plan, result, rng
        self.cookies: dict = {}
        self.ws = None
        self.cached: set[str] = set()   # hashes of large messages this browser holds
        self.pages: dict[str, str] = {}  # url path → page script hash
        self.widgets: dict[str, tuple[str, list]] = {}  # widget key → (id, options)
        self.downloads: dict[str, tuple[str, str]] = {}  # download button key → (url, deferred file id)
        self.session_id = ""
        self.page_hash = ""
        self.query = ""
        self.role = user["role"]
        self.conflicted = False  # the last save was refused as stale

    async def load_index(self) -> None:
        t = time.perf_counter()
        status, _, _ = await http("GET", self.base + "/", self.cookies)
        self.result.index_loads.append(time.perf_counter() - t)
        if status != 200:
            self.result.errors.append(("http", "/", self.role, f"GET / {status}"))

    async def login(self) -> bool:
        await self.load_index()
        _, _, form = await http("GET", self.base + "/dang-nhap", self.cookies)  # the CSRF cookie and token
        token = re.search(rb'name="csrf" value="([^"]*)"', form)
        t = time.perf_counter()
        status, headers, _ = await http("POST", self.base + "/dang-nhap", self.cookies,
                                        {"user": self.user["user"], "password": self.user["password"],
                                         "csrf": token.group(1).decode() if token else ""})
        self.result.logins.append(time.perf_counter() - t)
        if status != 303 or "kpi_phien" not in self.cookies:
            self.result.errors.append(("login", "/dang-nhap", self.role, f"POST {status}"))
            return False
        return True

    async def connect(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        url = self.base.replace("http://", "ws://") + "/_stcore/stream"
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        self.ws = await websockets.connect(url, subprotocols=["streamlit"], max_size=None,
                                           additional_headers={"Cookie": cookie, "Origin": self.base},
                                           open_timeout=RUN_TIMEOUT, ping_interval=None)

    async def rerun(self, label: str, page_name: str = "", query: str | None = None,
                    widget: tuple[str, str] | None = None) -> bool:
        """Send one rerun (a page by its url path, a query string, or one selectbox's new value)
        and wait for the script to finish; record the time and anything wrong."""
        msg = BackMsg()
        cs = msg.rerun_script
        cs.query_string = self.query if query is None else query
        if page_name is not None and page_name in self.pages:
            cs.page_script_hash = self.pages[page_name]
        elif page_name:
            cs.page_name = page_name
        elif self.page_hash and query is None:
            cs.page_script_hash = self.page_hash
        if widget is not None:
            key, value = widget
            wid, _ = self.widgets[key]
            ws_ = cs.widget_states.widgets.add()
            ws_.id = wid
            ws_.string_value = value
        cs.cached_message_hashes.extend(sorted(self.cached))
        cs.context_info.timezone = "Asia/Ho_Chi_Minh"
        cs.context_info.locale = "vi-VN"
        cs.context_info.url = self.base + "/" + (page_name or "") + (f"?{cs.query_string}" if cs.query_string else "")
        t = time.perf_counter()
        started = time.time()
        await self.ws.send(msg.SerializeToString())
        self.widgets, self.downloads = {}, {}
        problems: list[tuple[str, str]] = []
        busy = False
        try:
            while True:
                raw = await asyncio.wait_for(self.ws.recv(), RUN_TIMEOUT - (time.perf_counter() - t))
                fm = ForwardMsg()
                fm.ParseFromString(raw)
                kind = fm.WhichOneof("type")
                if fm.metadata.cacheable and fm.hash:
                    self.cached.add(fm.hash)
                if kind == "delta" and fm.delta.WhichOneof("type") == "new_element":
                    el = fm.delta.new_element
                    et = el.WhichOneof("type")
                    if et == "exception":
                        problems.append(("exception", el.exception.message[:300]))
                    elif et == "alert" and el.alert.format == Alert.ERROR and CONFLICT_TEXT in el.alert.body:
                        problems.append(("conflict", el.alert.body[:300]))
                    elif et == "alert" and el.alert.format == Alert.ERROR:
                        problems.append(("st.error", el.alert.body[:300]))
                    elif et == "markdown" and LOGIN_TEXT in el.markdown.body:
                        problems.append(("login_page", "phiên bị đưa về trang đăng nhập"))
                    elif et == "alert" and BUSY_TEXT in el.alert.body:
                        busy = True
                    elif et == "selectbox":
                        key = el.selectbox.id.rsplit("-", 1)[-1]
                        self.widgets[key] = (el.selectbox.id, list(el.selectbox.options))
                    elif et == "download_button":
                        key = el.download_button.id.rsplit("-", 1)[-1]
                        self.downloads[key] = (el.download_button.url, el.download_button.deferred_file_id)
                elif kind in ("new_session",):
                    if fm.new_session.HasField("initialize"):
                        self.session_id = fm.new_session.initialize.session_id
                    self._pages(fm.new_session.app_pages)
                    self.page_hash = fm.new_session.page_script_hash
                elif kind == "navigation":
                    self._pages(fm.navigation.app_pages)
                    self.page_hash = fm.navigation.page_script_hash
                elif kind == "page_info_changed":
                    self.query = fm.page_info_changed.query_string
                elif kind == "page_not_found":
                    problems.append(("page_not_found", fm.page_not_found.page_name))
                elif kind == "script_finished":
                    if fm.script_finished in (ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_WITH_COMPILE_ERROR):
                        break
        except asyncio.TimeoutError:
            self.result.errors.append(("timeout", label, self.role, f"> {RUN_TIMEOUT:.0f} s"))
            return False
        except websockets.ConnectionClosed as e:
            self.result.errors.append(("disconnect", label, self.role, str(e)[:200]))
            return False
        took = time.perf_counter() - t
        self.result.runs.append((label, self.role, took, started))
        if busy:
            self.result.busy += 1
        for kind, detail in problems:
            if kind == "conflict":
                self.result.conflicts += 1
                self.conflicted = True
            else:
                self.result.errors.append((kind, label, self.role, detail))
        return not problems

    async def download(self, key: str) -> tuple[int, bytes]:
        """Fetch a download button's file as the browser does (a file made when clicked is asked
        for over the websocket first); (HTTP status, body)."""
        url, deferred = self.downloads[key]
        if deferred:
            msg = BackMsg()
            req = msg.backend_operation_request
            req.request_id = f"dl-{time.time_ns()}"
            req.session_id = self.session_id
            req.deferred_file.file_id = deferred
            await self.ws.send(msg.SerializeToString())
            while True:
                fm = ForwardMsg()
                fm.ParseFromString(await asyncio.wait_for(self.ws.recv(), RUN_TIMEOUT))
                if fm.WhichOneof("type") == "backend_operation_response" and \
                        fm.backend_operation_response.request_id == req.request_id:
                    r = fm.backend_operation_response
                    if r.error_msg:
                        raise RuntimeError(r.error_msg)
                    url = r.deferred_file.url
                    break
        status, _, body = await http("GET", self.base + url if url.startswith("/") else url, self.cookies)
        return status, body

    def _pages(self, app_pages) -> None:
        for p in app_pages:
            self.pages[p.url_pathname] = p.page_script_hash

    # ---- what people do ------------------------------------------------------------------------

    def _period_query(self, **extra) -> str:
        year = self.rng.choice(self.plan["years"][:2])
        rnd = self.rng.choice(["CN", "HK1"])
        return urllib.parse.urlencode({"nam_hoc": year, "ky": rnd, **extra})

    async def light_step(self) -> bool:
        """Now and then (LIGHT_SHARE of the actions, every role) open Đổi mật khẩu: a form, nothing
        computed, so its time is the time a light page waits behind the heavy ones."""
        if self.rng.random() >= LIGHT_SHARE:
            return False
        await self.rerun(LIGHT_LABEL, "doi-mat-khau", "")
        return True

    async def principal_step(self) -> None:
        level = self.user.get("level") or "TH"
        if await self.light_step():
            return
        r = self.rng.random()
        if r < SAVE_SHARE:  # before a deadline principals type their figures in and save drafts
            await self.save_draft()
        elif r < 0.6:
            if "w_nam_hoc" in self.widgets and self.rng.random() < 0.4:
                await self.rerun("Trường (hiệu trưởng) · lọc", None,
                                 widget=("w_nam_hoc", self.rng.choice(self.plan["years"][:2])))
            else:
                await self.rerun("Trường (hiệu trưởng)", "", self._period_query())
        else:
            code = self.rng.choice(self.plan["indicators"].get(level) or self.plan["indicators"]["TH"])
            extra = {"chi_tieu": code}
            if self.rng.random() < 0.4:
                extra["ct_tab"] = "Bảng"
            await self.rerun("Chỉ tiêu (hiệu trưởng)", "chi-tieu", self._period_query(**extra))

    async def save_draft(self) -> None:
        """Open Nộp số liệu for the open period, change the pupils figure and press "Lưu nháp" (the
        text input's new value and the button's trigger in one rerun, as a browser sends them). When
        another window of the same school saved first, the page refuses the stale save; the person
        then presses "Tải lại bản mới nhất" and saves again, once."""
        tap = _Tap(self.ws)
        self.ws = tap
        try:
            if not await self.rerun("Nộp số liệu (hiệu trưởng)", "nop-so-lieu",
                                    urllib.parse.urlencode({"nam_hoc": self.plan["years"][0], "ky": "CN"})):
                return
            for attempt in range(2):
                if attempt:  # refused as stale: reload the latest version first
                    if RELOAD_BUTTON not in tap.buttons:
                        self.result.errors.append(("luu_nhap", SAVE_LABEL, self.role, "không thấy nút tải lại"))
                        return
                    tap.press = tap.buttons[RELOAD_BUTTON]
                    if not await self.rerun(RELOAD_LABEL, None):
                        return
                if SAVE_INPUT not in tap.inputs or SAVE_BUTTON not in tap.buttons:
                    self.result.errors.append(("luu_nhap", SAVE_LABEL, self.role, "không thấy ô hoặc nút"))
                    return
                wid, value = tap.inputs[SAVE_INPUT]
                typed = self.__dict__.setdefault("typed", {})  # what this browser's input holds (sent once)
                digits = "".join(ch for ch in (value or typed.get(SAVE_INPUT, "")) if ch.isdigit())
                new = str(int(digits) + 1 if digits else self.rng.randint(300, 900))  # up: never below its parts
                typed[SAVE_INPUT] = new
                self.widgets[SAVE_INPUT] = (wid, [])
                tap.press, tap.successes, self.conflicted = tap.buttons[SAVE_BUTTON], [], False
                ok = await self.rerun(SAVE_LABEL, None, widget=(SAVE_INPUT, new))
                if self.conflicted:
                    continue
                if ok and not any(s.startswith("Đã lưu nháp") for s in tap.successes):
                    self.result.errors.append(("luu_nhap", SAVE_LABEL, self.role, "không thấy xác nhận đã lưu"))
                return
        finally:
            self.ws = tap.ws

    async def office_step(self) -> None:
        if await self.light_step():
            return
        r = self.rng.random()
        if r < 0.35:
            tab = self.rng.choice(["", "Biểu đồ", "Bảng số liệu"])
            extra = {"tq_tab": tab} if tab else {}
            if self.rng.random() < 0.3:
                extra["cap_hoc"] = self.rng.choice(["TH", "THCS"])
            await self.rerun("Tổng quan", "", self._period_query(**extra))
        elif r < 0.7:
            level = self.rng.choice(["TH", "THCS"])
            extra = {"chi_tieu": self.rng.choice(self.plan["indicators"][level])}
            tab = self.rng.choice(["", "Bảng"])
            if tab:
                extra["ct_tab"] = tab
            label = "Chỉ tiêu · bảng" if tab else "Chỉ tiêu"
            await self.rerun(label, "chi-tieu", self._period_query(**extra))
        elif r < 0.8:
            await self.rerun("Chỉ số CĐS", "chi-so-cds", urllib.parse.urlencode({"nam_hoc": self.plan["years"][0]}))
        elif r < 0.9:
            await self.rerun("Trường (văn phòng)", "truong-hoc",
                             self._period_query(truong=self.rng.choice(self.plan["schools"])))
        else:
            await self.rerun("So sánh", "so-sanh", "")

    async def live(self, until: float, think: tuple[float, float]) -> None:
        if not await self.login():
            return
        await self.connect()
        await self.rerun("Trang đầu", "", "")
        while time.time() < until:
            await asyncio.sleep(self.rng.uniform(*think))
            if time.time() >= until:
                break
            try:
                if self.rng.random() < 0.1:  # a new page load: reload, new websocket
                    await self.load_index()
                    await self.connect()
                if self.role == "hieu_truong":
                    await self.principal_step()
                else:
                    await self.office_step()
            except (OSError, websockets.ConnectionClosed) as e:
                self.result.errors.append(("disconnect", "?", self.role, str(e)[:200]))
                await asyncio.sleep(1)
                try:
                    await self.connect()
                except OSError:
                    pass
        if self.ws is not None:
            await self.ws.close()


async def drive(base: str, plan: dict, sessions: int, seconds: float, think: tuple[float, float],
                ramp: float, seed: int) -> Result:
    """Run `sessions` browsers for `seconds` (their first logins spread over `ramp` seconds)."""
    result = Result()
    rng = random.Random(seed)
    users = plan["users"]
    until = time.time() + seconds

    async def one(i: int):
        await asyncio.sleep(ramp * i / max(1, sessions))
        b = Browser(base, users[i % len(users)], plan, result, random.Random(rng.random()))
        try:
            await b.live(until, think)
        except Exception as e:  # noqa: BLE001 - a broken browser is an error to report, not a crash
            result.errors.append(("client", "?", b.role, f"{type(e).__name__}: {e}"[:300]))

    await asyncio.gather(*(one(i) for i in range(sessions)))
    return result


# ---- one real Chromium under the same load --------------------------------------------------------

PACK_AFTER_S = 30.0  # the meeting pack is asked for this far into the run (past the ramp: under the full load)
PACK_TIMEOUT_S = 180.0


def _login(page, base: str, user: dict) -> None:
    page.goto(base + "/dang-nhap")
    page.fill("#user", user["user"])
    page.fill("#password", user["password"])
    page.click("button[type=submit]")


def meeting_pack(browser, base: str, plan: dict) -> dict:
    """An office member opens Báo cáo and, as soon as it is drawn, clicks "Tạo bộ báo cáo" (the page started
    the pack's view models and charts when it opened, as it does for a person): the seconds from the click to
    the files (the PPTX button), the first pack of this scope and period since the start."""
    user = next(u for u in plan["users"] if u["role"] == "chuyen_vien")
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        page = context.new_page()
        _login(page, base, user)
        page.goto(f"{base}/bao-cao?nam_hoc={plan['years'][0]}&ky=CN")
        build = page.get_by_role("button", name="Tạo bộ báo cáo")
        build.wait_for(timeout=RUN_TIMEOUT * 1000)
        t = time.perf_counter()
        build.click()
        page.get_by_role("button", name="PPTX", exact=True).wait_for(timeout=PACK_TIMEOUT_S * 1000)
        return {"seconds": time.perf_counter() - t, "at": time.time()}
    except Exception as e:  # noqa: BLE001 - reported with the figures
        return {"seconds": None, "error": f"{type(e).__name__}: {e}"[:200]}
    finally:
        context.close()


def drive_browser(base: str, plan: dict, seconds: float, think: tuple[float, float], seed: int,
                  pack: bool = True) -> dict:
    """A real Chromium (Playwright, Debian chromium) doing a principal's clicks; times each page
    from the navigation to the app's "script not running" state with content drawn. Once,
    PACK_AFTER_S into the run (`pack`), an office member's meeting pack (`meeting_pack`)."""
    from playwright.sync_api import sync_playwright

    rng = random.Random(seed)
    user = next(u for u in plan["users"] if u["role"] == "hieu_truong")
    runs, errors, made = [], [], None
    started = time.time()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        _login(page, base, user)
        until = time.time() + seconds
        level = user.get("level") or "TH"
        while time.time() < until:
            if pack and made is None and time.time() - started >= min(PACK_AFTER_S, seconds / 3):
                made = meeting_pack(browser, base, plan)
            if rng.random() < 0.5:
                label, url = "Trường (hiệu trưởng)", f"{base}/?nam_hoc={plan['years'][0]}&ky=CN"
            else:
                code = rng.choice(plan["indicators"].get(level) or plan["indicators"]["TH"])
                label, url = ("Chỉ tiêu (hiệu trưởng)",
                              f"{base}/chi-tieu?nam_hoc={plan['years'][0]}&ky=CN&chi_tieu={code}")
            t = time.perf_counter()
            try:
                page.goto(url)
                page.wait_for_selector('[data-test-script-state="notRunning"] h1', timeout=RUN_TIMEOUT * 1000)
                runs.append((label, "hieu_truong", time.perf_counter() - t, time.time()))
                if page.locator('[data-testid="stException"]').count():
                    errors.append(("exception", label, "hieu_truong", "trên trình duyệt"))
                if page.get_by_text(LOGIN_TEXT).count():
                    errors.append(("login_page", label, "hieu_truong", "trên trình duyệt"))
            except Exception as e:  # noqa: BLE001
                errors.append(("browser", label, "hieu_truong", f"{type(e).__name__}: {e}"[:200]))
            time.sleep(rng.uniform(*think))
        browser.close()
    return {"runs": runs, "errors": errors, "pack": made}


# ---- what one page run costs the server ------------------------------------------------------------

COST_SPECS = [
    # (label, user role wanted, url path, query)
    ("Trường (hiệu trưởng)", "hieu_truong", "", "nam_hoc={y}&ky=CN"),
    ("Chỉ tiêu (hiệu trưởng)", "hieu_truong", "chi-tieu", "nam_hoc={y}&ky=CN&chi_tieu=tin_hoc_quoc_te"),
    ("Chỉ tiêu · bảng (hiệu trưởng)", "hieu_truong", "chi-tieu",
     "nam_hoc={y}&ky=CN&chi_tieu=tin_hoc_quoc_te&ct_tab=Bảng"),
    ("Tổng quan", "lanh_dao", "", "nam_hoc={y}&ky=CN"),
    ("Tổng quan · biểu đồ", "lanh_dao", "", "nam_hoc={y}&ky=CN&tq_tab=Biểu đồ"),
    ("Tổng quan · bảng", "lanh_dao", "", "nam_hoc={y}&ky=CN&tq_tab=Bảng số liệu"),
    ("Chỉ tiêu", "lanh_dao", "chi-tieu", "nam_hoc={y}&ky=CN&chi_tieu=tin_hoc_quoc_te"),
    ("Chỉ tiêu · bảng", "lanh_dao", "chi-tieu", "nam_hoc={y}&ky=CN&chi_tieu=tin_hoc_quoc_te&ct_tab=Bảng"),
    ("Chỉ số CĐS", "lanh_dao", "chi-so-cds", "nam_hoc={y}"),
    ("So sánh", "lanh_dao", "so-sanh", ""),
    ("Trường (văn phòng)", "lanh_dao", "truong-hoc", "nam_hoc={y}&ky=CN&truong={school}"),
    ("Nộp số liệu (hiệu trưởng)", "hieu_truong", "nop-so-lieu", "nam_hoc={y}&ky=CN"),
    ("Duyệt số liệu", "chuyen_vien", "duyet-so-lieu", "nam_hoc={y}&ky=CN"),
    ("Dữ liệu", "chuyen_vien", "du-lieu", ""),
    ("Báo cáo", "chuyen_vien", "bao-cao", ""),
    ("Tự đánh giá CĐS (hiệu trưởng)", "hieu_truong", "tu-danh-gia-cds", ""),
    ("Đánh giá CĐS", "chuyen_vien", "danh-gia-cds", ""),
    ("Quản trị", "lanh_dao", "quan-tri", ""),
    ("Đổi mật khẩu", "hieu_truong", "doi-mat-khau", ""),
]


def _tree_cpu(pid: int) -> float:
    return cpu_seconds(server_processes(pid))


async def page_costs(base: str, plan: dict, server_pid: int, repeat: int) -> list[dict]:
    """Server CPU (every process under `server_pid`) and wall time per run of each page, warm:
    one browser reruns the page `repeat` times after a first run that fills the caches."""
    out = []
    browsers: dict[str, Browser] = {}
    for label, role, path, query in COST_SPECS:
        user = next(u for u in plan["users"]
                    if (u["role"] == role) or (role == "lanh_dao" and u["role"] != "hieu_truong"))
        if role not in browsers:
            b = Browser(base, user, plan, Result(), random.Random(1))
            await b.login()
            await b.connect()
            await b.rerun("start", "", "")
            browsers[role] = b
        b = browsers[role]
        q = query.format(y=plan["years"][0], school=plan["schools"][0])
        await b.rerun(label, path, q)
        await asyncio.sleep(0.3)
        c0, t0 = _tree_cpu(server_pid), time.perf_counter()
        for _ in range(repeat):
            await b.rerun(label, path, q)
        c1, t1 = _tree_cpu(server_pid), time.perf_counter()
        out.append({"page": label, "cpu_ms": 1000 * (c1 - c0) / repeat, "wall_ms": 1000 * (t1 - t0) / repeat,
                    "errors": [e for e in b.result.errors if e[1] == label]})
    for b in browsers.values():
        await b.ws.close()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m pages._load")
    ap.add_argument("--url", required=True)
    ap.add_argument("--plan", required=True, help="JSON: users, years, indicators per level, schools")
    ap.add_argument("--out", required=True)
    ap.add_argument("--sessions", type=int, default=60)
    ap.add_argument("--seconds", type=float, default=90)
    ap.add_argument("--think", type=float, nargs=2, default=(3, 10))
    ap.add_argument("--ramp", type=float, default=10)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--browser", action="store_true", help="one real Chromium instead of simulated browsers")
    ap.add_argument("--no-pack", action="store_true", help="--browser: no meeting pack")
    ap.add_argument("--cost", type=int, metavar="PID", help="measure each page's server CPU (server process PID)")
    ap.add_argument("--repeat", type=int, default=20)
    a = ap.parse_args(argv)
    plan = json.loads(open(a.plan, encoding="utf-8").read())
    if a.cost:
        out = asyncio.run(page_costs(a.url, plan, a.cost, a.repeat))
    elif a.browser:
        out = drive_browser(a.url, plan, a.seconds, tuple(a.think), a.seed, pack=not a.no_pack)
    else:
        r = asyncio.run(drive(a.url, plan, a.sessions, a.seconds, tuple(a.think), a.ramp, a.seed))
        out = {"runs": r.runs, "logins": r.logins, "index_loads": r.index_loads, "errors": r.errors, "busy": r.busy,
               "conflicts": r.conflicts}
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
