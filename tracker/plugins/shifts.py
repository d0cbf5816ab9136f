"""Datasette plugin for `tracker serve`: the SQL functions of the ``stance_shifts`` canned query.

``stance_shift(previous critical, neutral, supportive, last critical, neutral, supportive)`` (the
rule of `db.shifts.judge`: the shift's description or NULL) and ``url_host(url)`` (a news
article's outlet), registered on every connection.
"""

from __future__ import annotations

from datasette import hookimpl

from db.shifts import register_functions


@hookimpl
def prepare_connection(conn):
    register_functions(conn)
