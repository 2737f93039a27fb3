"""Text a person typed, shown as text (issue 24 item 3).

School and unit names, display names, explanations, reasons, notes, comments, file names and
document numbers come from people. Streamlit renders st.markdown / st.write / st.caption / st.info /
st.error / st.success / st.warning, expander and tab labels, widget labels and radio options as
markdown: typed `![a](http://other-host/x.png)` would make the reader's browser fetch from another
host, `[l](/dang-xuat)` would be a link, `**x**` bold. So every such text passes through `plain`
before it meets markdown, and through `clean` where nothing is markdown (dataframe cells, selectbox
options, download file names):

- `clean`: Unicode NFC; bidirectional overrides and isolates (U+202A..U+202E, U+2066..U+2069),
  the direction marks (U+200E, U+200F, U+061C) and control characters removed (a right-to-left
  override would show `tai\\u202efdp.docx` as "taixcod.pdf"); line breaks become spaces unless kept.
- `plain`: `clean`, then every character that can start markdown escaped with a backslash, which
  CommonMark (and Streamlit's remark/micromark) renders as the character itself: `\\ ` * ~ [ ] <
  | $ & @` everywhere and `_` unless inside a word (`ke_hoach.pdf` never emphasises), the `:` of
  `http:` / `mailto:` / `javascript:` and of `:name:` (autolinks, emoji and icon codes), the `.`
  of `www.`, and a leading `-`, `+`, `1.`, `#` or `>` (a list, a heading, a quote). So no image, link,
  emphasis, code, HTML tag or entity, table, LaTeX or directive (`:red[...]`) can start. Ordinary punctuation
  (`( ) / . , - : ; # >`) stays as it is: a sentence holding a name reads the same in the page's
  source as on the screen.
"""

from __future__ import annotations

import re
import unicodedata

# bidi embeddings/overrides, isolates and marks: they reorder what the reader sees
BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
_SPECIAL = re.compile(r"[\\`*~\[\]<|$&@]|_+")
_SCHEME = re.compile(r"(?i)\b(https?|ftp|mailto|javascript|data|file)(:)")
_WWW = re.compile(r"(?i)\b(www)(\.)")
_CODE = re.compile(r":(?=[\w+\-/]+:)")  # :smile:, :material/icon:
_LIST = re.compile(r"^([-+#>])|^(\d+)([.)])")  # only at the start: a list, a heading, a quote
_BREAKS = re.compile(r"[\r\n\u2028\u2029\x85]+")


def clean(s, keep_lines: bool = False) -> str:
    """`s` as text without anything that changes how it is shown: NFC, no bidi controls, no control
    characters (tabs become spaces; line breaks too unless `keep_lines`). None → ''."""
    if s is None:
        return ""
    s = unicodedata.normalize("NFC", str(s))
    s = _BREAKS.sub("\n" if keep_lines else " ", s)
    return "".join(" " if ch == "\t" else ch for ch in s
                   if ch in "\n\t" or (ch not in BIDI and unicodedata.category(ch) != "Cc"))


def _inside_word(line: str, m: re.Match) -> bool:
    """A run of `_` between two letters or digits (ke_hoach): CommonMark never emphasises it."""
    return m[0][0] == "_" and 0 < m.start() and m.end() < len(line) and line[m.start() - 1].isalnum() \
        and line[m.end()].isalnum()


def _escape(line: str) -> str:
    line = line.strip()
    line = _SPECIAL.sub(lambda m: m[0] if _inside_word(line, m) else "".join("\\" + ch for ch in m[0]), line)
    line = _SCHEME.sub(r"\1\\\2", line)
    line = _WWW.sub(r"\1\\\2", line)
    line = _CODE.sub(r"\\:", line)
    return _LIST.sub(lambda m: "\\" + m[1] if m[1] else m[2] + "\\" + m[3], line)


def plain(s) -> str:
    """`s` for any markdown context (st.markdown, st.write, st.caption, alerts, labels, tabs, radio
    options): cleaned to one line and every markdown construct escaped, so it shows as typed."""
    return _escape(clean(s))


def plain_lines(s) -> str:
    """Like `plain`, keeping the typed line breaks (as markdown hard breaks)."""
    return "  \n".join(_escape(line) for line in clean(s, keep_lines=True).split("\n"))
