"""`python -m kpi serve`: nginx in front of supervised Streamlit workers, the Vietnamese front end.
"""
