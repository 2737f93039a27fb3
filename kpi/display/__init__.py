"""How figures are shown: plotly figures (screen and print), what a chart says in words, and tables
for people with their CSV/XLSX downloads. No I/O.
"""
