"""Vietnamese number and date formats: 17,5%  1.234  10/01/2024."""

from __future__ import annotations

import datetime as dt
import math


def _is_missing(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def fmt_int(x) -> str:
    """1234 → '1.234'; missing → '—'."""
    if _is_missing(x):
        return "—"
    return f"{round(x):,}".replace(",", ".")


def fmt_number(x, decimals: int = 1) -> str:
    """1234.5 → '1.234,5'; trailing ',0' dropped; missing → '—'."""
    if _is_missing(x):
        return "—"
    s = f"{x:,.{decimals}f}".replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    if decimals and s.endswith("," + "0" * decimals):
        s = s[: -(decimals + 1)]
    return s


def fmt_percent(share, decimals: int = 1) -> str:
    """0.175 → '17,5%'; 1.0 → '100%'; missing → '—'."""
    if _is_missing(share):
        return "—"
    return fmt_number(share * 100, decimals) + "%"


def fmt_points(x) -> str:
    """Maturity points: 75.5 → '75,5'; 50.0 → '50'."""
    return fmt_number(x, 1)


def fmt_date(d) -> str:
    """date or datetime → 'dd/mm/yyyy'; missing → '—'."""
    if _is_missing(d):
        return "—"
    if isinstance(d, str):
        d = dt.date.fromisoformat(d[:10])
    return d.strftime("%d/%m/%Y")


def fmt_dates(values):
    """fmt_date for a whole column at once (pandas): 'dd/mm/yyyy', missing → '—'."""
    import pandas as pd

    return pd.to_datetime(pd.Series(values)).dt.strftime("%d/%m/%Y").fillna("—")


def fmt_datetime(d) -> str:
    """datetime → 'dd/mm/yyyy hh:mm'."""
    if _is_missing(d):
        return "—"
    return d.strftime("%d/%m/%Y %H:%M")


def search_key(text) -> str:
    """What a search box compares: no accents, đ → d, case-folded ('Trường Lê Đình' → 'truong le dinh')."""
    import unicodedata

    t = unicodedata.normalize("NFD", str(text)).replace("đ", "d").replace("Đ", "D")
    return "".join(ch for ch in t if not unicodedata.combining(ch)).casefold()
