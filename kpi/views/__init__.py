"""View models: what a page or an export shows for a period, scope and data version, built once and
shared by every session and every export.
"""
