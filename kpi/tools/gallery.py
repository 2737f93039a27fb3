"""The gallery: every page × role × screen size as a person sees it, and every page of every export,
in one offline HTML file (`python -m kpi gallery OUT/`, `make gallery`), with what `kpi.tools.look` finds
wrong on each, so the whole product can be reviewed in one place before a release.

Pages are opened in Debian's chromium (Playwright) on a real `streamlit run` of dashboard.py over the
sample database (kpi.tools.browse, the same walk the browser tests drive); exports are drawn as images
by kpi.tools.export_images.

Nothing here imports streamlit; Playwright is imported when a walk starts.
"""

from __future__ import annotations

import datetime as dt
import html
import shutil
import tempfile
import time
from pathlib import Path

from kpi.catalog.model import default_catalog
from kpi.common.formatting import fmt_number
from kpi.tools import look
from kpi.tools.browse import BROWSER_ARGS, CHROMIUM, VIEWPORTS, Shot, serve, walk
from kpi.tools.export_images import ExportView, make_exports
from kpi.tools.sample import build_sample

# ---- the gallery page ------------------------------------------------------------------------------

CSS = """
body { font-family: "DejaVu Sans", Arial, sans-serif; color: #1f2937; margin: 0; background: #f5f6f8; }
header { background: #fff; padding: 16px 24px; border-bottom: 1px solid #e5e7eb; position: sticky; top: 0; z-index: 2; }
h1 { font-size: 1.3rem; margin: 0 0 4px; } h2 { margin: 28px 24px 8px; font-size: 1.2rem; }
h3 { margin: 18px 24px 6px; font-size: 1rem; } nav a { margin-right: 14px; font-size: .9rem; }
.small { color: #6b7280; font-size: .85rem; } section { padding-bottom: 8px; }
.row { display: flex; gap: 18px; align-items: flex-start; padding: 0 24px; overflow-x: auto; }
figure { margin: 0; background: #fff; border: 1px solid #e5e7eb; border-radius: 6px; padding: 8px; }
figure img { display: block; border: 1px solid #eee; } figcaption { font-size: .85rem; margin-top: 6px; max-width: 720px; }
.w1440 img { width: 720px; } .w390 img { width: 260px; }
.w1440 > a, .w390 > a { display: block; max-height: 1100px; overflow-y: auto; } .page img { width: 420px; } .slide img { width: 560px; }
.ok { color: #047857; } .bad { color: #b91c1c; } ul.problems { margin: 4px 0 0 16px; padding: 0; max-width: 700px; }
ul.problems li { font-size: .8rem; color: #b91c1c; }
table.sheet { border-collapse: collapse; font-size: .78rem; background: #fff; margin: 4px 0; }
table.sheet td { border: 1px solid #e5e7eb; padding: 2px 6px; max-width: 260px; overflow: hidden; white-space: nowrap;
                 text-overflow: ellipsis; } td.num { text-align: right; }
.tables { padding: 0 24px; } pre { background: #fff; border: 1px solid #e5e7eb; padding: 8px; font-size: .8rem;
                                       white-space: pre-wrap; max-width: 900px; }
"""  # noqa: E501 - the gallery's CSS as it was written, one rule group a line


def _problems_html(problems: list) -> str:
    """The findings, the same word in the same kind of problem counted once ("«<NA>» × 47")."""
    if not problems:
        return '<div class="ok small">Không thấy lỗi nào.</div>'
    groups: dict = {}
    for p in problems:
        word = p.detail.split("»")[0] + "»" if p.detail.startswith("«") else p.detail
        groups.setdefault((p.kind, word), []).append(p)
    items = []
    for (kind, _), same in list(groups.items())[:30]:
        count = f" <b>× {len(same)}</b>" if len(same) > 1 else ""
        items.append(f"<li>{html.escape(kind)}: {html.escape(same[0].detail)}{count}</li>")
    more = f"<li>… và {len(groups) - 30} loại nữa</li>" if len(groups) > 30 else ""
    return f'<div class="bad small">{len(problems)} lỗi:</div><ul class="problems">{"".join(items)}{more}</ul>'


def write_html(out: Path, shots: list[Shot], exports: list[ExportView], facts: dict) -> Path:
    """OUT/index.html and its images in OUT/img/: every screen, then every export, each with its findings."""
    img = out / "img"
    img.mkdir(parents=True, exist_ok=True)

    def save(data: bytes, name: str) -> str:
        (img / name).write_bytes(data)
        return f"img/{name}"

    parts = [f"<!doctype html><html lang='vi'><head><meta charset='utf-8'><title>Bộ sưu tập giao diện</title>"
             f"<style>{CSS}</style></head><body><header><h1>Bộ sưu tập giao diện · Bảng điều khiển chuyển đổi số</h1>"
             f"<div class='small'>{html.escape(facts['summary'])}</div><nav>"]
    pages = list(dict.fromkeys(s.screen.page for s in shots))
    titles = {p: next(s.screen.label for s in shots if s.screen.page == p).split(" · ")[0] for p in pages}
    parts += [f"<a href='#{p}'>{html.escape(titles[p])}</a>" for p in pages]
    parts.append("<a href='#xuat'>Tệp xuất</a></nav></header>")
    n = 0
    for p in pages:
        mine = [s for s in shots if s.screen.page == p]
        parts.append(f"<section id='{p}'><h2>{html.escape(mine[0].screen.label.split(' · ')[0])}</h2>")
        for screen in dict.fromkeys(s.screen for s in mine):
            for user in dict.fromkeys(s.user for s in mine if s.screen == screen):
                row = [s for s in mine if s.screen == screen and s.user == user]
                parts.append(f"<h3>{html.escape(screen.label)} · {html.escape(row[0].role_label)} "
                             f"<span class='small'>{html.escape(row[0].url)}</span></h3><div class='row'>")
                for s in row:
                    n += 1
                    src = save(s.image, f"{n:03d}_{s.user}_{s.viewport}.png") if s.image else ""
                    image = (f"<a href='{src}'><img src='{src}' loading='lazy' "
                             f"alt='{html.escape(screen.label)}'></a>" if src else "")
                    parts.append(f"<figure class='w{s.viewport}'>" + image
                                 + f"<figcaption>{s.viewport} px · {fmt_number(s.seconds, 1)} s"
                                   f"{_problems_html(s.problems)}</figcaption></figure>")
                parts.append("</div>")
        parts.append("</section>")
    parts.append("<section id='xuat'><h2>Tệp xuất (bộ báo cáo họp và phiếu của trường)</h2>")
    for i, e in enumerate(exports):
        parts.append(f"<h3>{html.escape(e.title)} <span class='small'>{html.escape(e.file_name)} · "
                     f"{e.size // 1024 if e.size else 0} KB · {fmt_number(e.seconds, 1)} s</span></h3>")
        if e.note:
            parts.append(f"<p class='small' style='margin: 0 24px'>{html.escape(e.note)}</p>")
        parts.append(f"<div style='margin: 0 24px'>{_problems_html(e.problems)}</div>")
        if e.images:
            kind = "slide" if "PPTX" in e.title or "PNG" in e.title else "page"
            parts.append("<div class='row'>" + "".join(
                f"<figure class='{kind}'><a href='{save(b, f'x{i:02d}_{j:03d}.png')}'>"
                f"<img src='img/x{i:02d}_{j:03d}.png' "
                f"loading='lazy' alt='trang {j + 1}'></a><figcaption>trang {j + 1}</figcaption></figure>"
                for j, b in enumerate(e.images)) + "</div>")
        if e.tables:
            parts.append("<div class='tables'>"
                         + "".join(f"<h4>{html.escape(name)}</h4>{body}" for name, body in e.tables) + "</div>")
    parts.append("</section></body></html>")
    index = out / "index.html"
    index.write_text("".join(parts), encoding="utf-8")
    return index


def make_gallery(out: str | Path, db_path: str | Path | None = None, workers: int = 2, exports: bool = True,
                 log=print) -> Path:
    """Render every page × role × viewport and every export into OUT/index.html (+ OUT/img/).
    Without `db_path` the deterministic sample is built in a temporary folder (the gallery always
    shows the same product, whatever data/ holds)."""
    from playwright.sync_api import sync_playwright


    out = Path(out)
    if out.exists():
        shutil.rmtree(out / "img", ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    codes = look.catalog_codes(default_catalog())
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "gallery.duckdb"
        if db_path:
            shutil.copyfile(db_path, path)
        else:
            build_sample(path, schools=53, years=3, seed=7)
        with serve(path) as url:
            log(f"Máy chủ sẵn sàng ({time.perf_counter() - t0:.0f} s); chụp các trang…")
            shots = walk(url, codes=codes, workers=workers,
                         on_shot=lambda s: log(f"  {s.screen.label} · {s.user} · {s.viewport} px: "
                                               f"{len(s.problems)} lỗi ({fmt_number(s.seconds, 1)} s)"))
        t_pages = time.perf_counter() - t0
        views_out = []
        if exports:
            log("Tạo và vẽ các tệp xuất…")
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
                try:
                    views_out = make_exports(path, browser, codes, log)
                finally:
                    browser.close()
    total = time.perf_counter() - t0
    bad = sum(1 for s in shots if s.problems) + sum(1 for e in views_out if e.problems)
    summary = (f"Tạo lúc {dt.datetime.now():%d/%m/%Y %H:%M} · dữ liệu mẫu · {len(shots)} màn hình "
               f"({len({s.user for s in shots})} tài khoản × {len(VIEWPORTS)} cỡ màn hình), "
               f"{len(views_out)} tệp xuất · "
               f"{bad} mục có lỗi · chụp trang {t_pages:.0f} s, tổng {total:.0f} s")
    index = write_html(out, shots, views_out, {"summary": summary})
    log(summary)
    return index
