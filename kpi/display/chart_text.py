"""What a chart says in words (issue 30): its accessible name, stating its main figure, and the table
views of the charts that had none. No I/O, no streamlit.

A screen reader announces a chart by its name (st.plotly_chart's `alt`: role="figure" with an
aria-label); every number of the chart is also in a table beside it.
"""

from __future__ import annotations

import pandas as pd

from kpi.common.formatting import fmt_int, fmt_number, fmt_percent

LEVELS = (1, 2, 3)


def overview_name(counts: dict, period: str) -> str:
    """Tổng quan's chart: how many targets are met, nearly met, not met."""
    return (f"Biểu đồ tiến độ các chỉ tiêu, {period}: {fmt_int(counts['dat'])} chỉ tiêu đạt, "
            f"{fmt_int(counts['gan_dat'])} gần đạt, {fmt_int(counts['chua_dat'])} chưa đạt trong "
            f"{fmt_int(counts['all'])} chỉ tiêu theo dõi. Số liệu từng chỉ tiêu ở thẻ Bảng số liệu.")


def trend_name(label: str, trend: pd.DataFrame) -> str:
    """Chỉ tiêu's trend (kpi.domain.progress.trend_rows): the target over the periods, the latest in words."""
    if trend.empty:
        return f"Biểu đồ {label} của toàn đơn vị qua các kỳ."
    last = trend["period"].iloc[-1]
    now = trend[trend["period"] == last]
    said = "; ".join(f"{s} {fmt_percent(v)}" + (f" (chỉ tiêu {fmt_percent(t)})" if pd.notna(t) else "")
                     for s, v, t in zip(now["series"], now["value"], now["target"]))
    return (f"Biểu đồ {label} của toàn đơn vị qua {fmt_int(trend['period'].nunique())} kỳ; kỳ {last}: {said}. "
            "Số liệu ở thẻ Bảng số liệu.")


def schools_name(label: str, period: str, values: pd.DataFrame) -> str:
    """Chỉ tiêu's schools chart: how many schools reported, and the spread of their values."""
    v = values["value"].dropna() if "value" in values.columns else pd.Series(dtype="float64")
    if v.empty:
        return f"Biểu đồ {label} từng trường, {period}: chưa có trường nào có số liệu."
    share = "status" in values.columns
    met = int((values["status"] == "dat").sum()) if share else None
    spread = (f"thấp nhất {fmt_number(v.min() * 100)}%, cao nhất {fmt_number(v.max() * 100)}%"
              if v.between(0, 1).all() and v.max() <= 1
              else f"thấp nhất {fmt_number(v.min())}, cao nhất {fmt_number(v.max())}")
    return (f"Biểu đồ {label} từng trường, {period}: {fmt_int(len(v))} trường có số liệu"
            + (f", {fmt_int(met)} trường đạt" if met is not None else "") + f"; {spread}. "
            "Số liệu và đường mở trang từng trường ở thẻ Bảng.")


def compare_name(a: str, b: str, rows: pd.DataFrame) -> str:
    """So sánh's chart: schools that moved up to đạt and fell back."""
    return (f"Biểu đồ so sánh {a} với {b}: {fmt_int(rows['moved_up'].sum())} lượt trường lên đạt, "
            f"{fmt_int(rows['fell_back'].sum())} lượt tụt khỏi đạt. Số liệu ở thẻ Bảng.")


def level_counts_name(counts: dict, year: str) -> str:
    """Chỉ số CĐS: schools per level this school year."""
    said = ", ".join(f"Mức {m}: {fmt_int(counts.get(m, 0))} trường" for m in LEVELS)
    return f"Biểu đồ số trường theo mức, nhóm tiêu chí và cấp học, năm học {year}: {said}. Số liệu ở bảng dưới."


def level_trend_table(trend: pd.DataFrame) -> pd.DataFrame:
    """kpi.domain.maturity.trend as a table: one row per school year, schools per level."""
    if trend.empty:
        return pd.DataFrame(columns=["Năm học", *(f"Mức {m}" for m in LEVELS)])
    w = trend.pivot_table(index="school_year", columns="school_level", values="schools", aggfunc="sum").reindex(
        columns=list(LEVELS), fill_value=0).fillna(0)
    out = pd.DataFrame({"Năm học": w.index.astype(str)})
    for m in LEVELS:
        out[f"Mức {m}"] = [fmt_int(x) for x in w[m]]
    return out


def level_trend_name(table: pd.DataFrame) -> str:
    """Chỉ số CĐS's trend: the latest school year's schools per level."""
    if table.empty:
        return "Biểu đồ mức của trường qua các năm học: chưa có số liệu."
    last = table.iloc[-1]
    said = ", ".join(f"{c}: {last[c]} trường" for c in table.columns[1:])
    return (f"Biểu đồ mức của trường qua {fmt_int(len(table))} năm học; năm học {last['Năm học']}: {said}. "
            "Số liệu ở bảng dưới.")


def heatmap_name(schools: int, criteria: int, year: str) -> str:
    """Chỉ số CĐS's heat map: its size."""
    return (f"Bản đồ nhiệt điểm từng tiêu chí, năm học {year}: {fmt_int(schools)} trường × {fmt_int(criteria)} "
            "tiêu chí, mỗi ô là phần trăm điểm tối đa đạt được. Số liệu ở bảng dưới.")


def lost_name(lost: pd.DataFrame, short: dict) -> str:
    """Chỉ số CĐS's points lost: the criterion that loses the most."""
    if lost.empty:
        return "Biểu đồ tiêu chí mất nhiều điểm nhất: không trường nào mất điểm."
    top = lost.iloc[0]
    code = top["criterion_code"]
    return (f"Biểu đồ {fmt_int(min(len(lost), 12))} tiêu chí các trường mất nhiều điểm nhất; nhiều nhất là "
            f"{code} · {short.get(code) or top['name']}: bình quân {fmt_number(top['lost_per_school'], 2)} điểm "
            "mỗi trường. Số liệu ở bảng dưới.")


def criteria_table(crit: pd.DataFrame, names: dict) -> pd.DataFrame:
    """A school's criteria (the rows of kpi.display.figures.criteria_bars) as a table."""
    d = crit[~crit["placeholder"] & (crit["max_points"] > 0)]
    return pd.DataFrame({
        "Tiêu chí": list(d["criterion_code"]),
        "Nội dung": [names.get(c, c) for c in d["criterion_code"]],
        "Điểm đạt": [fmt_number(p) for p in d["points"]],
        "Điểm tối đa": [fmt_number(m) for m in d["max_points"]],
    })


def criteria_name(school: str, crit: pd.DataFrame) -> str:
    """A school's criteria chart: its points against the maximum."""
    d = crit[~crit["placeholder"] & (crit["max_points"] > 0)]
    got, top = float(d["points"].sum()), float(d["max_points"].sum())
    full = int((d["points"] >= d["max_points"]).sum())
    share = fmt_percent(got / top) if top else "—"
    return (f"Biểu đồ điểm từng tiêu chí của {school}: {fmt_number(got)} trên {fmt_number(top)} điểm ({share}), "
            f"{fmt_int(full)} trong {fmt_int(len(d))} tiêu chí đủ điểm. Số liệu ở bảng dưới.")
