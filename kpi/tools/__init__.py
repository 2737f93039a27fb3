"""Tools around the product, never imported by it: the benches (pages, imports, the load bench), the
gallery and its look checks, the sample office generator. Their Streamlit side (AppTest page runs,
simulated browsers) stays in pages/_bench.py and pages/_load.py, started in processes of their own.
"""
