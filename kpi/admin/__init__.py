"""Quản trị: accounts, passwords and sessions, the targets' yearly plans, schools and units, and
the rights and audit these share.
"""
