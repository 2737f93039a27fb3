import datetime as dt

import pytest

from kpi.common.formatting import fmt_date, fmt_int, fmt_number, fmt_percent


@pytest.mark.parametrize("value, expected", [
    (0.175, "17,5%"), (0.15, "15%"), (1.0, "100%"), (0.0, "0%"), (0.12345, "12,3%"), (None, "—"),
    (float("nan"), "—"),
])
def test_percent(value, expected):
    assert fmt_percent(value) == expected


@pytest.mark.parametrize("value, expected", [(1234, "1.234"), (1234567, "1.234.567"), (0, "0"), (None, "—")])
def test_int(value, expected):
    assert fmt_int(value) == expected


def test_number_and_date():
    assert fmt_number(1234.5) == "1.234,5"
    assert fmt_number(75.0) == "75"
    assert fmt_date(dt.date(2024, 1, 10)) == "10/01/2024"
    assert fmt_date("2024-05-20") == "20/05/2024"
