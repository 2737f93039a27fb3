"""One school's scorecard as a PDF (the principal's report), from the same view model as the
Trường page; a principal can only ask for their own school."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from kpi.catalog.model import Catalog
from kpi.common.access import Scope
from kpi.common.faults import ExportError
from kpi.common.formatting import fmt_datetime
from kpi.views import cache as views
from kpi.views.pack import SAMPLE_LABEL
from kpi.workflows import publication, snapshots


def school_pdf(source, catalog: Catalog, scope: Scope, school_id: str, school_year: str, round: str,
               snapshot_id: str | None = None) -> bytes:
    """One school's scorecard as a PDF, from the same view model as the Trường page (a principal
    can only ask for their own school). `source`: a `kpi.views.cache.Views` or a read-only connection."""
    v = source if isinstance(source, views.Views) else views.Views.of_connection(source, catalog)
    sc = scope.with_snapshot(snapshot_id)
    card = v.scorecard(sc, school_id, school_year, round)
    if card is None:
        raise ExportError("Bạn không có quyền xuất số liệu của trường này.")
    meta = v.meta()
    snap = snapshots.snapshot_info(v.con, snapshot_id) if snapshot_id else None
    stamp = " · ".join(x for x in (meta.get("unit_name", ""), f"Năm học {school_year} · {round}",
                                    f"Bản chốt {snap['snapshot_id']}" if snap else "Số liệu trực tiếp (chưa chốt)",
                                    f"Tạo lúc {fmt_datetime(dt.datetime.now())}",
                                    SAMPLE_LABEL if meta.get("is_sample") == "true" else "") if x)
    # deferred: fpdf (19 MB a worker) loads when a scorecard is printed, not in every worker at its start
    from kpi.exports.pdf import Document

    pdf = Document(stamp)
    pdf.heading(card.name, 20)
    pdf.text(f"{card.caption} · {card.submission}", 11)
    if card.returned:
        pdf.text(f"Lý do Phòng trả lại: {card.return_reason or '(Phòng không ghi lý do)'}", 11)
    if card.has_data:
        pdf.heading("Việc cần làm tiếp", 14, new_page=False)
        for line in card.next_steps:
            pdf.text("• " + line.replace("**", ""), 10)
        pdf.heading("Các chỉ tiêu", 14, new_page=False)
        pdf.table(pd.DataFrame({
            "Chỉ tiêu": [c.heading for c in card.cards], "Giá trị": [c.value for c in card.cards],
            "Chỉ tiêu đặt ra": [c.target for c in card.cards],
            "Tình trạng": [c.status_text for c in card.cards],
            "So với toàn đơn vị": [c.peers for c in card.cards]}), 9, status_col="Tình trạng")
    else:
        pdf.text("Trường chưa có số liệu kỳ này.", 11)
    if card.maturity is not None:
        m = card.maturity
        done, said = publication.sentence(v.publications(Scope(sc.unit_id, school_id), m.school_year), m.school_year,
                                          school=True)
        pdf.heading(f"Mức độ chuyển đổi số · năm học {m.school_year} " + ("(đã công bố)" if done else "(tạm tính)"),
                    14, new_page=False)
        pdf.text(said, 10)
        pdf.text(m.sources, 10)
        pdf.text(f"Mức của trường (điểm chỉ số): Mức {m.level} · "
                 + " · ".join(f"{g} {p} ({lv})" for g, p, lv in m.groups), 11)
        for road in m.roads:
            pdf.text("• " + road, 10)
    return pdf.bytes()

