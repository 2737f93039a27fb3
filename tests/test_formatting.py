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


def _marshalled(data) -> bytes:
    """What Streamlit sends the browser for a styled table (its own marshalling of a Styler)."""
    from streamlit.elements.lib.pandas_styler_utils import marshall_styler
    from streamlit.proto.Dataframe_pb2 import Dataframe
    proto = Dataframe()
    marshall_styler(proto.arrow_data, data, "t")
    return proto.arrow_data.SerializeToString()


def test_a_long_table_is_drawn_once_and_sent_as_a_fresh_one_would_be():
    """tables.kept_screen_table: a view model's table shown run after run is made into its screen form
    once, and its rendered cells are kept (tables.keep_cells); the browser gets what a fresh Styler gives."""
    import pandas as pd

    from kpi.display import tables
    df = pd.DataFrame({"Trường": [f"Trường {i}" for i in range(600)], "Giá trị": [i / 1000 for i in range(600)],
                       "Tử số": [None if i % 7 == 0 else i for i in range(600)]})
    fmt = {"Giá trị": fmt_percent}
    first, _ = tables.kept_screen_table(df, fmt, 500)
    again, _ = tables.kept_screen_table(df, fmt, 500)
    assert again is first and len(first.data) == 500
    fresh, _ = tables.screen_table(df.head(500), fmt)
    fresh.set_uuid(first.uuid)
    sent = _marshalled(first)
    assert sent == _marshalled(first) == _marshalled(fresh)  # kept cells, drawn twice, as freshly drawn ones
    assert "0,5%" in first._translate(False, False)["body"][5][2]["display_value"]
    # another frame, even with the same content, is drawn for itself; a short one is never kept
    assert tables.kept_screen_table(df, {"Giá trị": fmt_number}, 500)[0] is not first  # other formats
    other = df.copy()
    assert tables.kept_screen_table(other, fmt, 500)[0] is not first
    short = df.head(20)
    assert tables.kept_screen_table(short, fmt)[0] is not tables.kept_screen_table(short, fmt)[0]


def test_a_kept_table_goes_with_its_frame():
    """tables.kept_screen_table holds its frame weakly: once the view model holding a national table is dropped,
    the frame is freed (nothing here keeps it alive, nor its screen form a view of its buffers) and its kept
    screen form goes too. Planted: a frame kept alive by the kept table would outlive its last other holder."""
    import gc
    import weakref

    import pandas as pd

    from kpi.display import tables
    fmt = {"Giá trị": fmt_percent}
    df = pd.DataFrame({"Trường": [f"Trường {i}" for i in range(5000)], "Giá trị": [i / 5000 for i in range(5000)],
                       "Tử số": list(range(5000))})
    made, _ = tables.kept_screen_table(df, fmt, 500)
    key = (id(df), id(fmt), 500)
    assert key in tables._kept_tables and tables.kept_screen_table(df, fmt, 500)[0] is made
    alive = weakref.ref(df)
    del df
    gc.collect()
    assert alive() is None  # the kept table did not hold the frame (nor did its 500-row screen form)
    other = pd.DataFrame({"Trường": ["x"] * 200, "Giá trị": [0.5] * 200, "Tử số": [1] * 200})
    tables.kept_screen_table(other, fmt, 500)  # the next table drawn clears the dead frame's entry
    assert key not in tables._kept_tables or tables._kept_tables[key][0]() is other
    assert len(made.data) == 500  # what a session already has keeps working
