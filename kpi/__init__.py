"""Bảng điều khiển chuyển đổi số: the domain package (catalog, queries, scoring, exports).

Never imports streamlit; the app's pages call into it.
"""
