"""Meeting packs and school reports in PPTX, PDF, XLSX, PNG and HTML, from the views' models, and the
chart renderer shared by the server's workers.
"""
