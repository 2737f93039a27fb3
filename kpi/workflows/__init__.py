"""Workflows written as tables over the stores: schools' figures entered in the app (submit,
return, approve, lock), the yearly maturity self-assessment, its publication, and the frozen
snapshots of a reporting round.
"""
