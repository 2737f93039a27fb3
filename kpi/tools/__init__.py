"""Tools around the product, never imported by it: the benches (pages, imports, the load bench and
its simulated browsers), the gallery and its look checks, the sample office generator. The
Streamlit-driving modules here are DESIGN's named exception to "kpi never imports streamlit".
"""
