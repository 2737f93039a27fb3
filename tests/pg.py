"""The tests' PostgreSQL: kpi.tools.pgserver's server (Debian's binaries, a cluster in a temporary
folder, a Unix socket only, dying with its starter), and the record of the statements a PostgreSQL
store ran (tests/test_state_dialects.py checks that every statement of the store ran on it).

Each test takes a fresh database: `CREATE DATABASE ... TEMPLATE` of a template that holds the schema
(and one that holds the sample's state store), a few tens of milliseconds."""

from __future__ import annotations

from kpi.tools.pgserver import MISSING, Server, binaries, dbname  # noqa: F401 - the tests' names for them

RAN: set[str] = set()  # the named statements run on a PostgreSQL store in this process (tests/test_state_dialects.py)


def recording(resolve):
    """kpi.store.state_pg.resolve, noting in RAN the name of every statement a PostgreSQL connection runs."""
    def resolve_and_note(query):
        name, text = resolve(query)
        RAN.add(name)
        return name, text
    return resolve_and_note


def recording_own(own):
    """kpi.store.state_pg.own, noting in RAN each of PostgreSQL's own connection statements it gives."""
    def own_and_note(name):
        RAN.add(f"connection.{name}")
        return own(name)
    return own_and_note
