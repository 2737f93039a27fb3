"""The one guarded door every write goes through: pages and the CLI call it, never a write itself.
"""
