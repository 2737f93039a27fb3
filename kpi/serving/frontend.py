"""Streamlit's built front end in Vietnamese: a patched copy of its static folder.

Streamlit ships its page shell (index.html, `<html lang="en">`) and its JS bundle with English
words a screen reader or a user meets: the skip link, "Link to heading", the toolbar, the
uploader's button, the connection banner. `static_dir()` copies the installed static folder once
per Streamlit version (and per version of the table below) into data/run/, sets `lang="vi"` and
replaces those exact strings by Vietnamese ones. The single-process server (dashboard.py) and
nginx (kpi/serving/proxy.py) serve that copy.

Every replacement must match: a string no longer found (an upgrade of Streamlit) raises
`FrontendPatchError`, so that a test fails instead of English silently coming back.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import re
import shutil
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUN_DIR = ROOT / "data" / "run"

# (file name prefix under static/js/, exact English text, Vietnamese text). The English side keeps
# a little of the code around the words, so that only the visible or spoken text is replaced.
REPLACEMENTS: tuple[tuple[str, str, str], ...] = (
    # the skip link, the first Tab stop of every page
    ("index.", "children:`Skip to main content`", "children:`Bỏ qua, đến nội dung chính`"),
    # the anchor icon beside every heading
    ("StreamlitMarkdown.", '"aria-label":`Link to heading`', '"aria-label":`Liên kết đến đề mục này`'),
    # the "?" beside a field (its tooltip's button)
    ("StreamlitMarkdown.", "`Help`:`Help for ${", "`Trợ giúp`:`Trợ giúp về ${"),
    # the header toolbar and the sidebar
    ("index.", '"aria-label":`Main menu`', '"aria-label":`Trình đơn chính`'),
    ("index.", '"aria-label":`Expand sidebar`', '"aria-label":`Mở thanh bên`'),
    ("index.", '"aria-label":`Collapse sidebar`', '"aria-label":`Thu gọn thanh bên`'),
    ("index.", '"aria-label":`App pages`', '"aria-label":`Các trang`'),
    ("index.", '"aria-label":`Sidebar`', '"aria-label":`Thanh bên`'),
    ("index.", '"aria-label":`Running...`', '"aria-label":`Đang xử lý...`'),
    ("index.", "title:e?`Stopping...`:`Stop`", "title:e?`Đang dừng...`:`Dừng`"),
    ("index.", "`Please wait...`", "`Vui lòng chờ...`"),
    ("index.", '"aria-label":`Close`', '"aria-label":`Đóng`'),
    # the connection banner and status (issue 28 item 6)
    ("index.", "this.showError(`Connection error`", "this.showError(`Mất kết nối với máy chủ`"),
    ("index.", "message:`Is Streamlit still running? If you accidentally stopped Streamlit, just restart it in "
               "your terminal:`,codeBlock:`streamlit run yourscript.py`",
     "message:`Máy chủ không trả lời: có thể máy chủ đang khởi động lại. Trang sẽ tự kết nối lại; nếu sau "
     "vài phút vẫn chưa được, hãy báo người quản trị khởi động lại bằng lệnh:`,codeBlock:`python -m kpi serve`"),
    ("index.", "message:`Streamlit server is not responding. Are you connected to the internet?`",
     "message:`Máy chủ không trả lời. Hãy kiểm tra kết nối mạng; trang sẽ tự kết nối lại.`"),
    ("index.", "`Connecting`,", "`Đang kết nối`,"),
    ("index.", "`Connecting to Streamlit server`", "`Đang kết nối với máy chủ`"),
    ("index.", "`Unable to connect to Streamlit server`", "`Không kết nối được với máy chủ`"),
    # the toolbar over each chart and table
    ("Toolbar.", "label:`Fullscreen`", "label:`Toàn màn hình`"),
    ("PlotlyChart.", "l?`Close fullscreen`:`Fullscreen`", "l?`Thoát toàn màn hình`:`Toàn màn hình`"),
    ("DataFrame.", "label:`Download as CSV`", "label:`Tải về dạng CSV`"),
    ("DataFrame.", "label:`Search`", "label:`Tìm trong bảng`"),
    ("DataFrame.", "label:`Show/hide columns`", "label:`Ẩn/hiện cột`"),
    ("DataFrame.", "label:`Clear selection`", "label:`Bỏ chọn`"),
    # the file uploader
    # (its button shows only an icon in a narrow column: a name of its own, with the field's label)
    ("FileUploader.", "size:m.MEDIUM,children:r(N,{icon:`:material/upload:`,label:l?`Upload directories`:`Upload`}",
     "size:m.MEDIUM,\"aria-label\":c?`Chọn tệp để tải lên: ${c}`:`Chọn tệp để tải lên`,"
     "children:r(N,{icon:`:material/upload:`,label:l?`Tải thư mục lên`:`Chọn tệp để tải lên`}"),
    ("FileUploader.", "`Drag and drop files here`:`Drag and drop a file here`",
     "`Kéo và thả các tệp vào đây`:`Kéo và thả tệp vào đây`"),
    ("FileUploader.", " per file`", " mỗi tệp`"),
)

# the page shell
HTML_REPLACEMENTS: tuple[tuple[str, str], ...] = (
    ('<html lang="en">', '<html lang="vi">'),
    ("<title>Streamlit</title>", "<title>Bảng điều khiển chuyển đổi số</title>"),
    ("<p>You need to enable JavaScript to run this app.</p>",
     "<p>Cần bật JavaScript trong trình duyệt để dùng bảng điều khiển này.</p>"),
)


class FrontendPatchError(RuntimeError):
    """An English string to replace is no longer in Streamlit's front end (an upgrade changed it)."""


def installed_static_dir() -> Path:
    """Streamlit's own built front end (index.html, static/), found without importing streamlit."""
    spec = importlib.util.find_spec("streamlit")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("Chưa cài streamlit.")
    return Path(list(spec.submodule_search_locations)[0]) / "static"


PATCH_VERSION = 2  # raise when the way the copy is made changes (the table is in the stamp already)


def _stamp() -> str:
    table = repr((PATCH_VERSION, REPLACEMENTS, HTML_REPLACEMENTS)).encode()
    return f"{importlib.metadata.version('streamlit')}-{hashlib.sha256(table).hexdigest()[:8]}"


def patch_tree(folder: Path) -> None:
    """Apply the replacements in a copy of Streamlit's static folder, in place; raises
    FrontendPatchError naming every string that was not found."""
    missing = []
    index = folder / "index.html"
    shell = index.read_text(encoding="utf-8")
    for old, new in HTML_REPLACEMENTS:
        if old not in shell:
            missing.append(f"index.html: {old}")
        shell = shell.replace(old, new)
    index.write_text(shell, encoding="utf-8")
    js = folder / "static" / "js"
    texts: dict[Path, str] = {}
    for prefix, old, new in REPLACEMENTS:
        found = False
        for f in sorted(js.glob(f"{prefix}*.js")):
            if not f.name[len(prefix):].count(".") == 1:  # "index.<hash>.js", not "index.esm.<hash>.js"
                continue
            text = texts.setdefault(f, f.read_text(encoding="utf-8"))
            if old in text:
                texts[f] = text.replace(old, new)
                found = True
        if not found:
            missing.append(f"static/js/{prefix}*.js: {old}")
    for f, text in texts.items():
        f.write_text(text, encoding="utf-8")
    if missing:
        raise FrontendPatchError("Không tìm thấy chữ cần thay trong giao diện của Streamlit (phiên bản mới?): "
                                 + "; ".join(missing))
    rename_bundle(folder, "vi" + _stamp().rsplit("-", 1)[-1])


_JS_END = re.compile(r"\.js\b")
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


def _rename_refs(text: str, names: dict[str, str]) -> str:
    """`text` with every script file name in `names` replaced (found from each ".js" backwards: a
    regex for the whole name would backtrack through megabytes of minified code)."""
    out, last = [], 0
    for m in _JS_END.finditer(text):
        end, start = m.end(), m.start()
        while start > 0 and text[start - 1] in _NAME_CHARS and m.end() - start < 120:
            start -= 1
        name = text[start:end]
        if name.startswith("./"):
            start, name = start + 2, name[2:]
        if name in names:
            out += [text[last:start], names[name]]
            last = end
    return "".join(out) + text[last:] if out else text


def rename_bundle(folder: Path, tag: str) -> None:
    """Give every script of the copy a new name ("index.DormvYxC.js" → "index.DormvYxC.<tag>.js"), and
    every reference to it the new name. Streamlit's scripts are served as immutable for a year under
    names that only change with Streamlit's own build: a browser that once loaded the English ones
    would keep them (or mix English and Vietnamese modules) if the copy kept their names."""
    js = folder / "static" / "js"
    names = {f.name: f"{f.name[:-3]}.{tag}.js" for f in js.glob("*.js")}

    for f in [*js.glob("*.js"), folder / "index.html", folder / "manifest.json"]:
        if f.exists():
            text = f.read_text(encoding="utf-8")
            new = _rename_refs(text, names)
            if new is not text:
                f.write_text(new, encoding="utf-8")
    for old, new in names.items():
        (js / old).rename(js / new)


def static_dir(run_dir: Path | None = None) -> Path:
    """The patched copy of Streamlit's static folder (made on first use for this Streamlit version
    and this table; several workers starting at once each build their own and the first rename
    wins)."""
    run_dir = run_dir or RUN_DIR
    target = run_dir / f"static-{_stamp()}"
    if (target / "index.html").exists():
        return target
    run_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".static-", dir=run_dir))
    try:
        shutil.copytree(installed_static_dir(), work / "static")
        patch_tree(work / "static")
        os.chmod(work / "static", 0o755)
        try:
            os.rename(work / "static", target)
        except OSError:
            if not (target / "index.html").exists():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target
