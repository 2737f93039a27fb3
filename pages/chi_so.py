"""Chỉ số CĐS: at which maturity level are the schools, where are points lost, what closes the gap?"""

import streamlit as st

from kpi import scoring, tables
from kpi.figures import criteria_heatmap, level_distribution, level_trend, points_lost_bars
from kpi.formatting import fmt_int, fmt_percent
from pages import _shared as sh

sh.page_guard()

HEATMAP_ROWS = 200
cat = sh.catalog()
years = sh.index_years()
if not years:
    st.title("Chỉ số chuyển đổi số")
    st.info("Chưa có số liệu tự đánh giá mức độ chuyển đổi số của trường nào.")
    st.stop()
year = sh.url_select("Năm học", years, "nam_hoc")
level, owner, ward = sh.school_filters()

st.title("Chỉ số chuyển đổi số")
sh.sample_badge()
st.caption(f"{cat.index.decision} · Năm học {year} · tự đánh giá trước {cat.index.self_assessment_deadline}, "
           f"Phòng thẩm định trước {cat.index.review_deadline}")
st.warning("**Tạm tính**: phần lớn tiêu chí sau DH3 và cách tính điểm từng tiêu chí chỉ có từ nguồn không chính "
           "thức; 10 điểm nhóm Quản trị (QT_GAP) chưa xác định và không được chấm; trường chưa đáp ứng điều "
           "kiện bắt buộc bị giới hạn ở Mức 1; mức của trường là mức thấp hơn của hai nhóm. Các quy tắc này là "
           "thiết lập trong kpi/definitions/index.toml.", icon="⚠️")

order = st.session_state.get("cs_order", "total")
views = sh.maturity_views(year, years, level, owner, ward, order)
if views is None:
    st.info("Chưa có trường nào tự đánh giá trong năm học này.")
    st.stop()
schools, crit = views["schools"], views["crit"]

target = cat.index.district_target
share = (schools["school_level"] >= target["min_level"]).mean()
c1, c2, c3, c4 = st.columns(4)
c1.metric(f"Trường từ Mức {target['min_level']} trở lên", fmt_percent(share),
          help=f"Chỉ tiêu của Phòng: {fmt_percent(target['share'])}")
for col, m in zip((c2, c3, c4), (1, 2, 3)):
    col.metric(f"Mức {m}", fmt_int((schools["school_level"] == m).sum()))

dist_tab, heat_tab, lost_tab, review_tab, road_tab = st.tabs(
    ["Phân bố mức", "Bản đồ nhiệt", "Điểm mất nhiều nhất", "Tự đánh giá và thẩm định", "Lộ trình lên mức"])
with dist_tab:
    st.plotly_chart(sh.figure(level_distribution, views["dist"], "Số trường theo mức, nhóm tiêu chí và cấp học"),
                    theme=None, width="stretch", key="cs_dist")
    st.plotly_chart(sh.figure(level_trend, views["trend"], "Mức của trường qua các năm học"), theme=None,
                    width="stretch", key="cs_trend")
    st.dataframe(tables.level_table(views["dist"]), hide_index=True)
with heat_tab:
    order = st.radio("Sắp xếp trường theo", ["total", "dh", "qt", "name"], horizontal=True, key="cs_order",
                     format_func={"total": "Tổng điểm", "dh": "Điểm Dạy-học", "qt": "Điểm Quản trị",
                                  "name": "Tên trường"}.get)
    matrix = views["heatmap"]
    names = {k: c.name_vi for k, c in cat.criteria.items()}
    if len(matrix) > HEATMAP_ROWS:
        st.caption(f"Bản đồ nhiệt hiển thị {HEATMAP_ROWS} trường đầu theo thứ tự đã chọn trong {len(matrix):,} "
                   "trường; lọc theo cấp học, loại hình hoặc phường để xem nhóm khác.".replace(",", "."))
    st.plotly_chart(sh.figure(criteria_heatmap, matrix.head(HEATMAP_ROWS), names), theme=None, width="stretch",
                    key="cs_heat")
    st.dataframe((matrix * 100).round().head(tables.MAX_TABLE_ROWS).reset_index(names="Trường"), hide_index=True,
                 column_config={c: st.column_config.NumberColumn(c, format="%d%%", help=names[c])
                                for c in matrix.columns})
with lost_tab:
    lost = views["lost"]
    st.plotly_chart(sh.figure(points_lost_bars, lost.head(12), "Tiêu chí các trường mất nhiều điểm nhất"), theme=None,
                    width="stretch", key="cs_lost")
    st.dataframe(tables.lost_table(lost), hide_index=True)
with review_tab:
    rev = views["review"]
    only = st.toggle("Chỉ hiện các chênh lệch cần xem lại", value=True, key="cs_only_flags")
    shown = rev[rev["flag"] != ""] if only else rev
    st.caption(f"{fmt_int((rev['flag'] != '').sum())} chênh lệch cần Phòng xem lại.")
    frame = tables.review_table(shown)
    sh.table(frame, tables.REVIEW_FORMAT)
    sh.downloads(frame, f"tham_dinh_{year}", "cs_dl")
with road_tab:
    names_by_id = dict(zip(schools["school_id"], schools["name"]))
    sid = st.selectbox("Trường", list(names_by_id), format_func=names_by_id.get, key="cs_school")
    row = schools[schools["school_id"] == sid].iloc[0]
    for g in cat.index.groups:
        road = scoring.road_to_next_level(crit[crit["school_id"] == sid], row, g, cat)
        st.markdown(f"**Nhóm {cat.index.groups[g]}: {road.points:g} điểm, Mức {road.level}**".replace(".", ","))
        st.write(road.sentence)
