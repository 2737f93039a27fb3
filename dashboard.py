"""Bảng điều khiển chuyển đổi số: the app's frame and router (`streamlit run dashboard.py`).

Imported as a module (by `streamlit run`'s server), this file is the ASGI app: Streamlit plus the
login routes (/dang-nhap, /dang-xuat) that set and clear the httponly session cookie, and the guard
of Streamlit's /media/ downloads (pages/_media.py). Run as a
Streamlit script (every session run), it checks the session and shows each role only its pages.
"""

from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parent

if __name__ != "__main__":
    import asyncio
    import contextlib

    from starlette.middleware import Middleware
    from streamlit.runtime.pages_manager import PagesManager

    from pages._data import warm_up_quietly
    from pages._media import MediaGuard
    from pages._web import ROUTES

    # Pages are registered with st.navigation only: never serve a session in Streamlit's legacy
    # pages/ mode (which it otherwise picks for the first session after a start, because a pages/
    # folder exists).
    PagesManager.uses_pages_directory = False

    # Streamlit's front end in Vietnamese (lang="vi", its own words): the patched copy, not the
    # installed folder (kpi.serving.frontend; nginx serves the same copy under `python -m kpi serve`).
    from streamlit import file_util

    from kpi.serving import frontend

    _static = str(frontend.static_dir())
    file_util.get_static_dir = lambda: _static

    # Streamlit polls its config and secrets files every 0,2 s whatever server.fileWatcherType says (a hash of
    # each missing one every time): 1,5-2,1% of a worker's CPU under the national load (py-spy, issue 29). A
    # running server takes a changed config at its restart (`python -m kpi serve --restart`); a minute is plenty.
    from streamlit.watcher import polling_path_watcher

    polling_path_watcher._POLLING_PERIOD_SECS = 60.0

    @contextlib.asynccontextmanager
    async def warm(_app):
        # The server answers (health included) only after this: a worker is warm before it takes
        # users, and `python -m kpi serve` adds it to nginx's pool only then.
        await asyncio.to_thread(warm_up_quietly)
        yield

    # /media/ (every download: evidence, exports) only for a live session, nosniff and attachment
    app = st.App(__file__, routes=ROUTES, lifespan=warm, middleware=[Middleware(MediaGuard)])
else:
    from kpi.common.access import PAGES, ROLE_PAGES
    from kpi.common.text import plain
    from pages import _frame as frame
    from pages import _style as style
    from pages._web import CSRF_COOKIE, LOGIN_PATH, logout_form

    st.set_page_config(page_title="Bảng điều khiển chuyển đổi số",
                       page_icon=str(ROOT / "kpi/assets/favicon.png"), layout="wide")
    style.inject()  # focus ring, collapsed sidebar out of the Tab order (issue 30)

    def page(name: str, title: str, url: str, default: bool = False) -> st.Page:
        # A role's main page is served at "/"; its own path stays free for the link alias below.
        return st.Page(ROOT / f"pages/{name}.py", title=title, url_path=f"{url}-chinh" if default else url,
                       default=default)

    user = frame.login_user()
    # An outdated or mistyped link (/truong, a page of another role, /tong-quan for the role whose
    # main page it is) would make Streamlit show its English "Page not found" dialog over the page:
    # such a link gets a hidden page of its own that opens the main page with a Vietnamese note.
    wanted = frame.requested_page()
    if user is None:
        def login_needed():
            st.title("Bảng điều khiển chuyển đổi số")
            st.write("Vui lòng đăng nhập để xem số liệu.")
            st.markdown(f'<a href="{LOGIN_PATH}" target="_self">Đăng nhập</a>', unsafe_allow_html=True)
            # a logged-out visitor goes straight on to the login form (the link stays for a browser
            # without JavaScript); the form's own page sets the cookie its CSRF token needs
            st.html(f"<script>window.location.replace({LOGIN_PATH!r})</script>", unsafe_allow_javascript=True)

        login_pages = [st.Page(login_needed, title="Đăng nhập", url_path="can-dang-nhap", default=True)]
        if wanted and wanted != "can-dang-nhap":
            login_pages.append(st.Page(login_needed, title="Đăng nhập", url_path=wanted, visibility="hidden"))
        st.navigation(login_pages, position="hidden").run()
    else:
        # a first (or reset) password is changed before anything else
        names = ["doi_mat_khau"] if frame.must_change_password(user) else ROLE_PAGES[user.role]
        pages = [page(n, *PAGES[n], default=(i == 0)) for i, n in enumerate(names)]
        if wanted and wanted not in {PAGES[n][1] for n in names[1:]}:
            note = frame.link_note(wanted, PAGES[names[0]][1], {url: title for title, url in PAGES.values()})
            pages.append(st.Page(frame.redirect_to(pages[0], note), title=PAGES[names[0]][0], url_path=wanted,
                                 visibility="hidden"))
        nav = st.navigation(pages)
        if st.session_state.pop("_kpi_home", False):  # a first password was just changed
            st.switch_page(pages[0])
        st.sidebar.markdown(f"**{plain(user.display_name)}** · {user.role_label}")
        st.sidebar.markdown(logout_form(st.context.cookies.get(CSRF_COOKIE)), unsafe_allow_html=True)  # a POST
        frame.show_note()
        with frame.app_frame(user), frame.run_slot(frame.slot_kind(user, nav.title)):
            nav.run()
            # the page's last element: the gallery captures a screen only once it is there (kpi.tools.gallery);
            # numbered per run, so a walk that opens the next screen in the same tab knows its run is over
            st.session_state["_kpi_lan"] = run = st.session_state.get("_kpi_lan", 0) + 1
            st.html(f'<span id="kpi-het-trang" data-lan="{run}" hidden></span>')
