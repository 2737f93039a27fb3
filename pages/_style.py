"""The app's own CSS for keyboard users (issue 30), given once per run by dashboard.py's frame.

- A focus ring that shows wherever the keyboard is (links, buttons, tabs, fields, table cells):
  3 px dark blue outside a white gap, at least 3:1 on every background the app uses.
- The collapsed sidebar (a phone, or a zoomed window) is hidden, not only moved off screen, so its
  links and fields leave the Tab order until it is opened.
- A link in the page wraps instead of being cut: its name says where it leads ("Xem từng trường ·
  II.10 · …"), all of it.
- A disabled field's label in a readable grey (Streamlit's is 2.6:1).
- `.kpi-sr`: text for screen readers only (visually hidden, still read).
- On a phone (issue 25): the menu closes after a page is chosen in it (NAV_JS: Streamlit 1.67 leaves it
  open over the new page), tables scroll inside their frame rather than the page.
"""

from __future__ import annotations

import html

import streamlit as st

FOCUS = "#0B4F8A"  # 8.6:1 on white; on the primary blue buttons the white gap carries the ring

CSS = f"""
<style>
a:focus-visible, button:focus-visible, [role="tab"]:focus-visible, [role="button"]:focus-visible,
[role="link"]:focus-visible, [role="checkbox"]:focus-visible, [role="radio"]:focus-visible,
[role="switch"]:focus-visible, summary:focus-visible, [tabindex]:focus-visible, input:focus-visible,
textarea:focus-visible, select:focus-visible {{
  outline: 3px solid {FOCUS} !important;
  outline-offset: 2px !important;
  box-shadow: 0 0 0 2px #FFFFFF !important;
}}
[data-baseweb="input"]:focus-within, [data-baseweb="textarea"]:focus-within,
[data-baseweb="select"] > div:focus-within, [data-testid="stNumberInputContainer"]:focus-within {{
  outline: 3px solid {FOCUS} !important;
  outline-offset: 2px !important;
}}
label[data-testid="stWidgetLabel"][disabled] {{
  color: #5F5F5F !important;  /* a disabled field's label stays readable (6.4:1); the field shows it is off */
}}
[data-testid="stMain"] [data-testid="stPageLink-NavLink"] * {{
  white-space: normal !important; overflow: visible !important; text-overflow: clip !important;
}}
[data-testid="stSidebar"][data-collapsed="true"], [data-testid="stSidebar"][data-collapsed="true"] * {{
  visibility: hidden !important;
}}
.kpi-sr {{
  position: absolute !important; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden;
  clip: rect(0, 0, 0, 0); white-space: nowrap; border: 0;
}}
</style>
"""


NARROW = 768  # px: below this Streamlit draws the sidebar over the page (its own mobile breakpoint)

# Installed once per browser tab (the flag survives reruns): a click on a page link in the sidebar, on a
# narrow screen, closes the sidebar once the click has been handled, so the new page is not hidden under it.
NAV_JS = (f"""<script>
(() => {{
  if (window.__kpiNavClose) return;
  window.__kpiNavClose = true;
  document.addEventListener("click", (ev) => {{
    const link = ev.target.closest && ev.target.closest('[data-testid="stSidebarNav"] a, """
          f"""[data-testid="stSidebarNavLink"]');
    if (!link || window.innerWidth >= {NARROW}) return;
    setTimeout(() => {{
      const btn = document.querySelector('[data-testid="stSidebarCollapseButton"] button');
      const bar = document.querySelector('[data-testid="stSidebar"]');
      if (btn && bar && bar.getAttribute("aria-expanded") !== "false" """
          f"""&& bar.getBoundingClientRect().right > 0) btn.click();
    }}, 150);
  }}, true);
}})();
</script>""")


def inject() -> None:
    """Put the app's CSS on the page (a style-only st.html takes no room), and the phone's menu closer."""
    st.html(CSS)
    st.html(NAV_JS, unsafe_allow_javascript=True)


def narrow_hides(key: str, note: str) -> None:
    """On a narrow screen (a phone), hide the element drawn with `key` (e.g. a chart too wide to read)
    and say in its place what to look at instead; wider screens show the element and not the note."""
    st.html(f"""<style>
.kpi-narrow-note {{ display: none; font-size: 0.875rem; }}
@media (max-width: {NARROW - 1}px) {{
  .st-key-{key} {{ display: none !important; }}
  .kpi-narrow-note {{ display: block; }}
}}
</style><p class="kpi-narrow-note">{html.escape(note)}</p>""")
