"""`tracker serve`: Datasette over the database with the project's metadata."""

from __future__ import annotations

import os
import sys
from importlib import resources

import click

from tracker.app import App, pass_app


def datasette_args(db_path: str, host: str, port: int) -> list[str]:
    """The ``datasette serve`` command line for this installation."""
    metadata = str(resources.files("tracker").joinpath("metadata.yaml"))
    return [
        sys.executable, "-m", "datasette", "serve", db_path, "--metadata", metadata,
        "--host", host, "--port", str(port),
        "--setting", "sql_time_limit_ms", "3000", "--setting", "facet_time_limit_ms", "500",
        "--setting", "suggest_facets", "off",
    ]


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8001, show_default=True, type=click.IntRange(0, 65535))
@pass_app
def serve(app: App, host: str, port: int) -> None:
    """Datasette over the database (read-only for the web) with metadata, canned queries and plugins."""
    app.open_db(create=True)
    args = datasette_args(str(app.db_path), host, port)
    os.execv(args[0], args)
