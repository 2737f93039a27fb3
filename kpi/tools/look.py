"""What a person sees: checks of rendered pages and charts that find layout and wording defects.

Each check works on facts read from a real browser (Chromium through Playwright) and returns
problems as Vietnamese-readable sentences, so the same checks serve the browser tests and the
gallery (`python -m kpi gallery`):

- `CHART_FACTS_JS` collects, for every plotly chart on a page, the boxes of its visible text
  (tick labels, axis titles, legend items, annotations, data labels) and of its plot areas;
  `chart_problems` flags two texts that overlap, text outside the figure and data labels cut off
  by the plot area.
- `PAGE_FACTS_JS` collects the page's visible text (icon ligatures removed), its scroll width and
  the columns of every table; `page_problems` flags horizontal scrolling, key table columns out
  of view and `text_problems` in the visible text.
- `text_problems` flags what a person should never read: "None", "nan", "<NA>", "null", English
  decimals ("5.55"), internal codes (indicator and field codes from the catalog, `QT_GAP`), file
  paths and technical names.

Nothing here imports streamlit or playwright; the caller hands in a Playwright page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kpi.display.figures import STATUS_COLORS

# ---- text ---------------------------------------------------------------------------------------

EMPTY_WORDS = re.compile(r"\bNone\b|\bnan\b|\bNaN\b|<NA>|\bNaT\b|\bnull\b|\bundefined\b|\binf\b")
# An English decimal: digits, a dot, one, two or four and more digits (Vietnamese writes 5,55; a dot
# followed by exactly three digits is the Vietnamese thousands separator: 1.234). Not inside a
# longer dotted run (a version 1.5.0, an address 127.0.0.1) and not after a letter (DH3.1, II.10).
ENGLISH_DECIMAL = re.compile(r"(?<![\w.])\d+\.(?:\d{1,2}|\d{4,})(?![\d.])")
# An English thousands separator in a number with a decimal part or more groups: 1,234,567 / 1,234.5
ENGLISH_THOUSANDS = re.compile(r"(?<![\w,.])\d{1,3}(?:,\d{3}){2,}(?![\d])|(?<![\w,.])\d{1,3},\d{3}\.\d")
SNAKE_CODE = re.compile(r"(?<![\w/?&=.-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w.])")
UPPER_CODE = re.compile(r"\b[A-Z]{2,}_[A-Z0-9_]+\b")
# Streamlit's own English words on widgets (a multiselect's placeholder, the file uploader's button)
WIDGET_ENGLISH = re.compile(r"\b(?:Choose (?:an? )?options?|No options to select|No results|Drag and drop|"
                            r"Browse files|per file|Upload)\b")
FILE_PATH = re.compile(r"\b[\w-]+/[\w./-]*\.(?:toml|py|csv|sql|duckdb|json)\b|\bkpi/|\.streamlit/")
TECH_WORDS = re.compile(r"\b(?:Chromium|chromium|kaleido|DuckDB|duckdb|Streamlit|plotly|Traceback|Exception|"
                        r"KeyError|ValueError|TypeError|stderr|stdout|dataframe|Page not found)\b")


@dataclass(frozen=True)
class Finding:
    """One problem: what kind, where, and the text that shows it."""

    kind: str
    where: str
    detail: str

    def __str__(self) -> str:
        return f"{self.where}: {self.kind}: {self.detail}"


def _context(text: str, m: re.Match, width: int = 30) -> str:
    a, b = max(0, m.start() - width), min(len(text), m.end() + width)
    return text[a:b].replace("\n", " ⏎ ")


def text_problems(text: str, codes: set[str] | frozenset = frozenset(), where: str = "",
                  numbers: bool = True) -> list[Finding]:
    """Words a person should never read in `text`: empty-value words, English number formats
    (`numbers=False`: not checked, for raw data such as a table grid's accessible copy), internal
    codes (any of `codes`, snake_case or UPPER_CASE identifiers), file paths and technical names.
    Each finding shows the text around it."""
    out = []
    checks = (("giá trị trống hiện thành chữ", EMPTY_WORDS), ("số thập phân kiểu Anh", ENGLISH_DECIMAL),
              ("phân cách hàng nghìn kiểu Anh", ENGLISH_THOUSANDS), ("mã nội bộ", SNAKE_CODE),
              ("mã nội bộ", UPPER_CODE), ("đường dẫn tệp", FILE_PATH), ("từ kỹ thuật", TECH_WORDS),
              ("chữ tiếng Anh của khung giao diện", WIDGET_ENGLISH))
    if not numbers:
        checks = tuple(c for c in checks if c[1] not in (ENGLISH_DECIMAL, ENGLISH_THOUSANDS))
    for kind, rx in checks:
        for m in rx.finditer(text):
            out.append(Finding(kind, where, f"«{m.group(0)}» trong «{_context(text, m)}»"))
    if codes:
        rx = re.compile(r"(?<![\w/?&=.-])(?:" + "|".join(re.escape(c) for c in sorted(codes, key=len, reverse=True))
                        + r")(?![\w])")
        for m in rx.finditer(text):
            f = Finding("mã nội bộ", where, f"«{m.group(0)}» trong «{_context(text, m)}»")
            if f not in out:
                out.append(f)
    return out


def catalog_codes(catalog) -> set[str]:
    """Codes a person should see only as their Vietnamese labels: indicator and field codes, and
    the placeholder criteria (criterion numbers like DH3.1 are the Ministry's own numbering)."""
    codes = set(catalog.indicators) | set(catalog.fields)
    codes |= {c for c, crit in catalog.criteria.items() if "_" in c}
    return {c for c in codes if "_" in c or len(c) > 3}


# ---- charts -------------------------------------------------------------------------------------

# For every plotly chart under `root` (default: the document): the box of its main svg, the boxes
# of its subplots' plot areas, and every visible, non-empty text with its kind and group.
CHART_FACTS_JS = r"""
(root) => {
  root = root || document;
  const shown = el => {
    for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
      const s = getComputedStyle(e);
      if (s.display === 'none' || s.visibility === 'hidden' || parseFloat(s.opacity) === 0) return false;
    }
    return true;
  };
  const kindOf = t => {
    if (t.closest('.legend')) return 'legend';
    if (t.closest('.infolayer .g-gtitle, .gtitle')) return 'title';
    if (t.closest('[class^="g-x"][class$="title"], [class^="g-y"][class$="title"]')) return 'axis-title';
    if (t.closest('.annotation')) return 'annotation';
    if (t.closest('.colorbar')) return 'colorbar';
    if (t.closest('.xaxislayer-above, .xaxislayer-below')) return 'x-tick';
    if (t.closest('.yaxislayer-above, .yaxislayer-below')) return 'y-tick';
    if (t.closest('.cartesianlayer, .barlayer, .scatterlayer')) return 'data-label';
    return 'other';
  };
  const charts = [];
  const plots = root.querySelectorAll ? root.querySelectorAll('.js-plotly-plot') : [];
  plots.forEach((gd, index) => {
    const svg = gd.querySelector('svg.main-svg');
    if (!svg || !shown(gd)) return;
    const sb = svg.getBoundingClientRect();
    if (sb.width === 0 || sb.height === 0) return;
    const fl = gd._fullLayout || {};
    const areas = {};
    for (const [id, p] of Object.entries(fl._plots || {})) {
      if (!p.xaxis || !p.yaxis) continue;
      areas[id] = {x: sb.x + p.xaxis._offset, y: sb.y + p.yaxis._offset, w: p.xaxis._length, h: p.yaxis._length};
    }
    const groups = new Map();
    const texts = [];
    gd.querySelectorAll('svg.main-svg text').forEach(t => {
      const s = (t.textContent || '').trim();
      if (!s || t.closest('.hoverlayer') || !shown(t)) return;
      const r = t.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) return;
      const kind = kindOf(t);
      const holder = t.closest('.xaxislayer-above, .yaxislayer-above, .legend, .barlayer .trace, .scatterlayer .trace')
                     || t.parentElement;
      if (!groups.has(holder)) groups.set(holder, groups.size);
      const sub = t.closest('.subplot');
      let area = null;
      if (sub) for (const c of sub.classList) if (areas[c]) area = c;
      texts.push({text: s, kind, group: groups.get(holder), area,
                  box: [r.x, r.y, r.width, r.height]});
    });
    const gtitle = gd.querySelector('.g-gtitle text, .gtitle');
    const title = gtitle ? (gtitle.textContent || '').trim() : '';
    charts.push({index, title, svg: [sb.x, sb.y, sb.width, sb.height], areas, texts});
  });
  return charts;
}
"""

KIND_LABELS = {"legend": "chú giải", "title": "tiêu đề", "axis-title": "tiêu đề trục", "annotation": "chú thích",
               "colorbar": "thang màu", "x-tick": "nhãn trục ngang", "y-tick": "nhãn trục dọc",
               "data-label": "nhãn số liệu", "other": "chữ"}


def _overlap(a, b) -> tuple[float, float]:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    return min(ax + aw, bx + bw) - max(ax, bx), min(ay + ah, by + bh) - max(ay, by)


def _name(t: dict) -> str:
    s = t["text"] if len(t["text"]) <= 40 else t["text"][:39] + "…"
    return f"«{s}» ({KIND_LABELS.get(t['kind'], t['kind'])})"


def chart_problems(charts: list[dict], where: str = "", tolerance: float = 1.0) -> list[Finding]:
    """Problems of rendered charts (`CHART_FACTS_JS`' result): two texts overlapping by more than
    `tolerance` px both ways (texts of one group, e.g. the tick labels of one axis, may touch),
    any text outside the figure, a data label outside its plot area (cut off or spilling over)."""
    out = []
    for c in charts:
        name = f"{where} biểu đồ {c['index'] + 1}" + (f" «{c['title'][:40]}»" if c.get("title") else "")
        sx, sy, sw, sh = c["svg"]
        texts = c["texts"]
        for i, a in enumerate(texts):
            x, y, w, h = a["box"]
            if x < sx - tolerance or y < sy - tolerance or x + w > sx + sw + tolerance or y + h > sy + sh + tolerance:
                out.append(Finding("chữ ra ngoài biểu đồ", name, _name(a)))
            area = c["areas"].get(a.get("area")) if a["kind"] == "data-label" else None
            if area and (x < area["x"] - tolerance or x + w > area["x"] + area["w"] + tolerance
                         or y < area["y"] - tolerance or y + h > area["y"] + area["h"] + tolerance):
                out.append(Finding("nhãn số liệu bị cắt ở mép vùng vẽ", name, _name(a)))
            for b in texts[i + 1:]:
                dx, dy = _overlap(a["box"], b["box"])
                if dx > tolerance and dy > tolerance:
                    if a["group"] == b["group"] and a["kind"] == b["kind"] and min(dx, dy) <= 2 * tolerance:
                        continue  # neighbours of one group touching
                    out.append(Finding("chữ chồng lên nhau", name, f"{_name(a)} và {_name(b)}"))
    return out


# ---- pages --------------------------------------------------------------------------------------

# Facts of a whole Streamlit page: the visible text (material icon ligatures left out; the cells
# of every table that are drawn), widths, and each table's columns with their place on screen.
PAGE_FACTS_JS = r"""
async () => {
  const frame = () => new Promise(r => setTimeout(() => requestAnimationFrame(() => requestAnimationFrame(r)), 120));
  await frame();  // a grid sizes its columns after it is drawn
  const main = document.querySelector('[data-testid=stMain]') || document.body;
  let text = document.body.innerText;
  for (const icon of document.querySelectorAll('[data-testid=stIconMaterial]')) {
    const s = (icon.textContent || '').trim();
    if (s) text = text.split(s).join('');
  }
  const heads = df => [...df.querySelectorAll('th[role=columnheader]')].map(th => th.textContent);
  const tables = [];
  for (const df of document.querySelectorAll('[data-testid=stDataFrame]')) {
    if (!df.offsetParent) continue;
    const r = df.getBoundingClientRect();
    const grid = df.querySelector('table[role=grid]');
    const visible = heads(df);
    const cells = [...df.querySelectorAll('td[role=gridcell]')].slice(0, 600).map(td => td.textContent);
    let all = visible.slice();
    const scroller = df.querySelector('.dvn-scroller');
    if (scroller && scroller.scrollWidth > scroller.clientWidth + 1) {
      // the grid draws only the columns in view: scroll it to read the others, then back
      for (let x = scroller.clientWidth; x < scroller.scrollWidth + scroller.clientWidth; x += scroller.clientWidth) {
        scroller.scrollLeft = x;
        await frame();
        for (const h of heads(df)) if (!all.includes(h)) all.push(h);
        cells.push(...[...df.querySelectorAll('td[role=gridcell]')].slice(0, 300).map(td => td.textContent));
      }
      scroller.scrollLeft = 0;
      await frame();
    }
    tables.push({box: [r.x, r.y, r.width, r.height], visible_columns: visible, all_columns: all,
                 colcount: grid ? +grid.getAttribute('aria-colcount') : 0, cells});
  }
  const wide = [];
  const vw = window.innerWidth;
  const scrolls = e => {  // inside a box that scrolls (or clips) sideways on its own: a tab bar, a grid
    for (let a = e.parentElement; a && a !== main && a !== document.body; a = a.parentElement) {
      const o = getComputedStyle(a).overflowX;
      if ((o === 'auto' || o === 'scroll' || o === 'hidden') && a.getBoundingClientRect().right <= vw + 1) return true;
    }
    return false;
  };
  main.querySelectorAll('[data-testid=stPlotlyChart], [data-testid=stDataFrame], [data-testid=stMarkdownContainer], '
                        + '[data-testid=stMetric], [data-testid=stAlert], [data-testid=stCaptionContainer], '
                        + 'h1, h2, h3, button, [data-testid=stImage]').forEach(e => {
    if (!e.offsetParent) return;
    const r = e.getBoundingClientRect();
    if (r.width > 0 && r.right > vw + 1 && !e.closest('[data-testid=stDataFrame]') && !scrolls(e))
      wide.push({what: (e.getAttribute('data-testid') || e.tagName) + ': ' + (e.innerText || '').slice(0, 40),
                 right: r.right});
  });
  return {text, width: vw, scroll: [document.documentElement.scrollWidth, main.scrollWidth], wide, tables};
}
"""

# Columns a reader must see without scrolling a table sideways (on a wide screen).
KEY_COLUMNS = ("Trường", "Tình trạng", "Giá trị", "Chỉ tiêu", "Tiêu chí", "Lên đạt", "Tụt khỏi đạt", "Cần xem lại",
               "Mức 1", "Mức 2", "Mức 3", "Tỉ lệ", "Điểm mất bình quân mỗi trường", "Kỳ A", "Kỳ B", "Mã bản chốt",
               "Tên", "Tệp", "Trạng thái", "Lần nhập", "Ngày nộp", "Trễ (ngày)", "Lỗi")


def page_problems(facts: dict, codes=frozenset(), key_columns=(), where: str = "") -> list[Finding]:
    """Problems of a rendered page (`PAGE_FACTS_JS`' result): horizontal scrolling, elements wider
    than the screen, a key column of a table out of view, words nobody should read."""
    out = []
    if max(facts["scroll"]) > facts["width"] + 1:
        out.append(Finding("cuộn ngang", where,
                           f"trang rộng {max(facts['scroll'])} px trên màn hình {facts['width']} px"))
    for w in facts["wide"]:
        out.append(Finding("tràn khỏi màn hình", where, f"{w['what']} (mép phải {w['right']:.0f} px)"))
    for i, t in enumerate(facts["tables"]):
        shown = t["visible_columns"]
        cut = shown[-1] if shown and t["colcount"] > len(shown) else None  # the last drawn column is cut
        for c in key_columns:
            if c in t["all_columns"] and (c not in shown or c == cut):
                out.append(Finding("cột chính bị che", f"{where} bảng {i + 1}",
                                   f"cột «{c}» phải cuộn ngang mới thấy hết"))
    out += text_problems(facts["text"] + "\n" + "\n".join(c for t in facts["tables"] for c in t["all_columns"]),
                         codes, where)
    # a grid's accessible copy holds raw values (0.175 for 17,5%): its numbers are checked in AppTest
    cells = "\n".join(c for t in facts["tables"] for c in t["cells"] if c not in ("-Infinity", "Infinity"))
    out += [f for f in text_problems(cells, codes, where, numbers=False) if f not in out]
    return out


# ---- figures without a page ---------------------------------------------------------------------

def _specs(figs: list, width: int) -> list[dict]:
    import json

    from plotly.utils import PlotlyJSONEncoder

    out = []
    for f in figs:
        d = f.to_plotly_json() if hasattr(f, "to_plotly_json") else dict(f)
        d = json.loads(json.dumps(d, cls=PlotlyJSONEncoder))  # NaN → null, numpy → lists
        d["layout"] = {**d.get("layout", {}), "width": width}
        out.append(d)
    return out


def figures_html(figs: list, width: int) -> str:
    """An offline page drawing each figure at `width` px with the plotly.js of the installed plotly
    package (inlined, never a CDN)."""
    import json

    import plotly.offline

    body = "".join(f'<div id="f{i}"></div>' for i in range(len(figs)))
    return ("<!doctype html><html><head><meta charset='utf-8'><script>" + plotly.offline.get_plotlyjs()
            + "</script></head><body style='margin:0;background:#fff'>" + body + "<script>const specs = "
            + json.dumps(_specs(figs, width)) + ";specs.forEach((s, i) => Plotly.newPlot('f' + i, s.data, s.layout, "
            "{displayModeBar: false, responsive: false}));</script></body></html>")


def draw_figures(page, figs: list, width: int) -> None:
    """Draw `figs` at `width` px in a Playwright page (plotly.js loaded into it once)."""
    if not page.evaluate("() => !!window.Plotly"):
        import plotly.offline

        page.set_content("<!doctype html><html><head><meta charset='utf-8'><script>" + plotly.offline.get_plotlyjs()
                         + "</script></head><body style='margin:0;background:#fff'></body></html>")
    page.evaluate("""async (specs) => {
        document.body.querySelectorAll('.js-plotly-plot').forEach(d => Plotly.purge(d));
        document.body.innerHTML = '';
        for (const s of specs) {
          const d = document.createElement('div');
          document.body.appendChild(d);
          await Plotly.newPlot(d, s.data, s.layout, {displayModeBar: false, responsive: false});
        }
    }""", _specs(figs, width))


def figure_problems(page, figs: list, width: int, where: str = "") -> list[Finding]:
    """Draw `figs` at `width` px in a Playwright page and return `chart_problems` of each."""
    draw_figures(page, figs, width)
    return chart_problems(page.evaluate(CHART_FACTS_JS), where)


# ---- rules a figure's data must keep (no browser needed) -----------------------------------------

def _axis_values(fig, axis: str) -> list[float]:
    """Every finite number plotted along `axis` ('xaxis', 'yaxis2', ...) by traces on it."""
    letter, suffix = axis[0], axis[5:]
    out = []
    for t in fig.data:
        if getattr(t, "type", "") not in ("bar", "scatter"):
            continue
        if (getattr(t, f"{letter}axis", None) or letter) != letter + suffix:
            continue
        vals = getattr(t, letter, None)
        if vals is None:
            continue
        base = getattr(t, "base", None) if t.type == "bar" else None
        for i, v in enumerate(vals):
            if isinstance(v, (int, float)) and v == v and abs(v) != float("inf"):
                b = base[i] if isinstance(base, (list, tuple)) else (base or 0)
                out.append(float(v) + float(b or 0))
    return out


def _percent_axes(fig) -> list[str]:
    layout = fig.layout.to_plotly_json()
    axes = []
    for name, ax in layout.items():
        if not (name.startswith("xaxis") or name.startswith("yaxis")) or not isinstance(ax, dict):
            continue
        texts = ax.get("ticktext") or []
        if ax.get("ticksuffix") == "%" or (texts and all(str(t).endswith("%") for t in texts)):
            axes.append(name)
    return axes


def figure_rule_problems(fig, where: str = "") -> list[Finding]:
    """Rules of every chart, on the figure itself: a percent axis runs from 0 to 100% (or to the
    largest value) and never beyond 100% in its ticks; each target ("Chỉ tiêu …") lies inside its
    axis, is not clipped at the frame, is drawn over the values and in a colour no value uses;
    every status colour is named in words in the legend."""
    out = []
    layout = fig.layout.to_plotly_json()
    for name in _percent_axes(fig):
        ax = layout[name]
        rng = ax.get("range")
        values = _axis_values(fig, name)
        if not rng:
            out.append(Finding("trục phần trăm không cố định từ 0", where, name))
            continue
        lo, hi = min(rng), max(rng)
        if abs(lo) > 1e-9:
            out.append(Finding("trục phần trăm không bắt đầu từ 0%", where, f"{name} từ {lo:g}%"))
        peak = max(values, default=0)
        if hi < peak - 1e-9:
            out.append(Finding("trục phần trăm cắt mất giá trị", where, f"{name} đến {hi:g}%, giá trị {peak:g}%"))
        ticks = [v for v in ax.get("tickvals") or [] if isinstance(v, (int, float))]
        if ticks and max(ticks) > max(100, peak) + 1e-9:
            out.append(Finding("trục phần trăm quá 100%", where, f"{name}: vạch {max(ticks):g}%"))
    value_colors, value_index = set(), {}
    for i, t in enumerate(fig.data):
        if (t.name or "").startswith("Chỉ tiêu") or t.showlegend is False and t.hoverinfo == "skip":
            continue
        for c in _colors(t):
            value_colors.add(c)
        value_index[(getattr(t, "xaxis", None) or "x", getattr(t, "yaxis", None) or "y")] = i
    for i, t in enumerate(fig.data):
        if not (t.name or "").startswith("Chỉ tiêu") or t.x is None or all(v is None for v in t.x):
            continue
        xa, ya = getattr(t, "xaxis", None) or "x", getattr(t, "yaxis", None) or "y"
        horizontal = t.mode == "markers"
        axis = ("xaxis" + xa[1:]) if horizontal else ("yaxis" + ya[1:])
        rng = (layout.get(axis) or {}).get("range")
        vals = [v for v in (t.x if horizontal else t.y) if isinstance(v, (int, float)) and v == v]
        if rng and vals:
            lo, hi = min(rng), max(rng)
            span = hi - lo or 1
            for v in vals:
                if v < lo - 1e-9 or v > hi + 1e-9:
                    out.append(Finding("chỉ tiêu nằm ngoài trục", where, f"{t.name} = {v:g} ngoài [{lo:g}, {hi:g}]"))
                elif min(v - lo, hi - v) < 0.005 * span and t.cliponaxis is not False:
                    out.append(Finding("chỉ tiêu bị cắt ở mép khung", where, f"{t.name} = {v:g}"))
        if value_index.get((xa, ya), -1) > i:
            out.append(Finding("chỉ tiêu vẽ dưới giá trị", where, t.name))
        clash = set(_colors(t)) & value_colors
        if clash:
            out.append(Finding("chỉ tiêu cùng màu với giá trị", where, f"{t.name}: {', '.join(sorted(clash))}"))
    named = {c for t in fig.data if t.showlegend is not False and t.name and fig.layout.showlegend is not False
             for c in _colors(t)}
    for st_code, color in STATUS_COLORS.items():
        if st_code in ("dat", "gan_dat", "chua_dat") and any(color in _colors(t) for t in fig.data) \
                and color.upper() not in named:
            out.append(Finding("màu tình trạng không có chữ", where, f"màu {color} không được gọi tên trong chú giải"))
    return out


def _colors(trace) -> list[str]:
    """The colours a trace draws with (upper case)."""
    found = []
    for part in ("marker", "line"):
        obj = getattr(trace, part, None)
        if obj is None:
            continue
        for c in (obj.color if isinstance(obj.color, (list, tuple)) else [obj.color]):
            if isinstance(c, str) and c.startswith("#"):
                found.append(c.upper())
        inner = getattr(obj, "line", None)
        if inner is not None and isinstance(inner.color, str) and inner.color.startswith("#"):
            found.append(inner.color.upper())
    return found
