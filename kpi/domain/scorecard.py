"""A school's scorecard: cards per target, its submission status, what to do next (pure)."""

from __future__ import annotations

import pandas as pd

from kpi.catalog.model import Catalog
from kpi.common.formatting import fmt_date, fmt_int, fmt_percent
from kpi.domain.progress import gap, status


def cards(indicators: pd.DataFrame, catalog: Catalog) -> pd.DataFrame:
    """kpi.store.queries.school_indicators' rows with label, clause, status, in the plan's order."""
    if indicators.empty:
        return indicators.assign(label=[], clause=[], status=[])
    order = {code: i for i, code in enumerate(catalog.indicators)}
    out = indicators.copy()
    out["label"] = [catalog.indicators[c].label_vi for c in out["indicator_code"]]
    out["clause"] = [catalog.indicators[c].clause for c in out["indicator_code"]]
    out["gap_unit"] = [catalog.indicators[c].gap_unit for c in out["indicator_code"]]
    out["status"] = [status(None if pd.isna(v) else v, None if pd.isna(t) else t, n)
                     for v, t, n in zip(out["value"], out["target"], out["near"])]
    out["order"] = out["indicator_code"].map(order)
    return out.sort_values("order").drop(columns="order").reset_index(drop=True)


def submission_status(info: dict) -> str:
    """'Đã nộp đúng hạn ngày 12/05/2024', 'Nộp trễ 3 ngày (15/01/2024; hạn 10/01/2024)', 'Chưa nộp ...'."""
    deadline, received = info.get("deadline"), info.get("received_at")
    if received is None or pd.isna(received):
        return f"Chưa nộp báo cáo kỳ này (hạn {fmt_date(deadline)})."
    late = (pd.Timestamp(received).normalize() - pd.Timestamp(deadline).normalize()).days
    if late > 0:
        return f"Nộp trễ {late} ngày: ngày {fmt_date(received)} (hạn {fmt_date(deadline)})."
    return f"Đã nộp đúng hạn ngày {fmt_date(received)} (hạn {fmt_date(deadline)})."


def returned_sentence(timeliness: str, decided_by=None) -> str:
    """'Trả lại: Phòng đã trả lại số liệu kỳ này ...' with what to do, the first submission's
    timeliness kept (it is the school's, not the review's)."""
    who = "" if decided_by is None or pd.isna(decided_by) or not str(decided_by) else f" ({decided_by})"
    first = timeliness[0].lower() + timeliness[1:]
    return (f"Trả lại: Phòng{who} đã trả lại số liệu kỳ này để trường sửa. "
            f"Cần làm: sửa các số liệu theo lý do của Phòng rồi nộp lại trên trang Nộp số liệu. "
            f"Lần nộp đầu: {first}")


POINT_SOURCE_NAMES = {"verified": "Phòng xác nhận", "self": "tự đánh giá", "computed": "tính từ số liệu"}


def maturity_sources(crit: pd.DataFrame, precedence=("verified", "self", "computed")) -> str:
    """'Điểm chỉ số (...): 20 tiêu chí Phòng xác nhận · 5 tiêu chí tự đánh giá': which source
    each criterion's points come from (the index takes them in `precedence` order), so the index is
    never mistaken for another maturity score of the same year (the self-assessment being filled in)."""
    counts = crit["source"].value_counts() if "source" in crit.columns else pd.Series(dtype=int)
    parts = [f"{fmt_int(counts[src])} tiêu chí {POINT_SOURCE_NAMES[src]}" for src in precedence if counts.get(src, 0)]
    order = ", rồi ".join(POINT_SOURCE_NAMES[s] for s in precedence)
    return (f"Điểm chỉ số (mỗi tiêu chí lấy điểm {order}): " + (" · ".join(parts) if parts else "chưa có điểm")
            + ".")


def value_text(card) -> str:
    """The school's own value: '22,8%' for a ratio, 'Có' / 'Chưa' for a yes/no target."""
    if pd.isna(card["value"]):
        return "Chưa có số liệu"
    if card["kind"] == "bool":
        return "Có" if card["value"] >= 1 else "Chưa"
    return fmt_percent(card["value"])


def target_text(card) -> str:
    """'chỉ tiêu 40%' or, for a yes/no target, 'chỉ tiêu 100% trường'."""
    if pd.isna(card["target"]):
        return "chưa có chỉ tiêu"
    return f"chỉ tiêu {fmt_percent(card['target'])}" + (" trường" if card["kind"] == "bool" else "")


def peer_sentence(card, level: str) -> str:
    """'Toàn đơn vị · TH 43,8% · xếp thứ 3/16 trường TH đã báo cáo' (peers are never named). The
    value is the school's cấp học's in the district (its peers), named so: the district's value over
    every cấp học is another figure (the pack's)."""
    if card["kind"] == "bool":
        return f"Toàn đơn vị · {level}: {fmt_percent(card['district_value'])} trường đã triển khai"
    parts = [f"Toàn đơn vị · {level} {fmt_percent(card['district_value'])}"]
    if not pd.isna(card.get("position")):
        parts.append(f"xếp thứ {fmt_int(card['position'])}/{fmt_int(card['peers'])} trường {level} đã báo cáo")
    return " · ".join(parts)


def next_steps(cards_: pd.DataFrame, limit: int = 3) -> list[str]:
    """The targets missed by the widest margin, in plain Vietnamese."""
    missed = cards_[cards_["status"].isin(["chua_dat", "gan_dat"])].copy()
    if missed.empty:
        reported = cards_["value"].notna().sum()
        return [f"Trường đã đạt tất cả {reported} chỉ tiêu có số liệu kỳ này. Giữ vững kết quả."]
    missed["margin"] = missed["target"] - missed["value"]
    lines = []
    for _, c in missed.sort_values("margin", ascending=False).head(limit).iterrows():
        if c["kind"] == "bool":
            lines.append(f"**{c['clause']} {c['label']}**: trường chưa triển khai "
                         f"({target_text(c)}).")
            continue
        need = gap(c["numerator"], c["denominator"], c["target"])
        lines.append(f"**{c['clause']} {c['label']}**: đang {fmt_percent(c['value'])}, "
                     f"{target_text(c)}; cần thêm {fmt_int(need)} {c['gap_unit']}.")
    return lines
