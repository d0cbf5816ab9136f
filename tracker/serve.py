"""`tracker serve`: Datasette over the database, read-only for the web, with the project's metadata,
canned queries, dashboard, Atom feed and three plugins: mention in context (tracker/plugins/
mention_context.py), reading pages (ranked search, documents as prose, badges, short links:
tracker/plugins/reading.py) and the guard (read-only, limits, headers, throttling: tracker/plugins/guard.py).

`build_datasette` makes the instance (used by the CLI and the tests); the CLI runs it in-process with
uvicorn, as ``datasette serve`` does. The metadata (``metadata.yaml``) is written for any database
name: its ``"*"`` database key and the ``db: "*"`` of the dashboard charts are replaced by the real
name (Datasette's default: the file name without extension) when the instance is built.

Read-only: Datasette reads through ``mode=ro`` connections, the metadata declares no writable canned
query and no plugin that writes is enabled, so the web cannot change the database (the crawler keeps
writing concurrently; WAL). With a password (``--password-env``), every request needs HTTP Basic
authentication (datasette-auth-passwords, user ``analyst`` by default).
"""

from __future__ import annotations

import asyncio
import copy
import os
import sqlite3
from functools import lru_cache
from importlib import resources
from pathlib import Path

import click
import sqlite_utils
import yaml
from datasette.app import Datasette
from datasette.plugins import pm

from tracker.app import App, UsageProblem, pass_app, port_problem
from db.frontend import ensure_frontend
from tracker.plugins import feeds, guard, mention_context, reading, shifts, unsubscribe, versions

DEFAULT_PASSWORD_ENV = "TRACKER_PASSWORD_HASH"
# Registered in this order: the unsubscribe wrapper before the guard, so the guard (trylast, registered
# later) stays the outermost wrapper around it.
PLUGINS = {"policy-tracker-mention-context": mention_context, "policy-tracker-reading": reading,
           unsubscribe.PLUGIN: unsubscribe, "policy-tracker-guard": guard, "policy-tracker-versions": versions,
           "policy-tracker-feeds": feeds, "policy-tracker-shifts": shifts}

# Datasette settings: generous enough for analysts, bounded so a big database cannot hang the server.
SETTINGS = {
    "sql_time_limit_ms": 3000,
    "facet_time_limit_ms": 500,
    "facet_suggest_time_limit_ms": 50,
    "suggest_facets": False,
    "max_returned_rows": 1000,
    "default_page_size": 25,
    "default_facet_size": 20,
    "truncate_cells_html": 400,
    "allow_download": False,
    "default_cache_ttl": 60,
    "num_sql_threads": guard.SQL_THREADS,
}


@lru_cache(maxsize=1)
def _packaged_metadata() -> dict:
    return yaml.safe_load(resources.files("tracker").joinpath("metadata.yaml").read_text("utf-8"))


def metadata_for(db_name: str, password_env: str | None = None, username: str = "analyst",
                 columns: dict[str, set[str]] | None = None, default_topic: str | None = None) -> dict:
    """The packaged metadata with ``"*"`` replaced by ``db_name``; with ``password_env``, HTTP Basic auth
    for ``username`` whose password hash is read from that environment variable. ``columns`` (table ->
    its column names, see `table_columns`) limits the shared glossary to the columns each table has:
    Datasette lists every described column above the table, so a table page would otherwise open
    with some 70 definitions of columns it does not have. ``default_topic`` pre-fills the dashboard's
    topic box (its figures are then over that topic's classified mentions)."""
    metadata = copy.deepcopy(_packaged_metadata())
    glossary = metadata.pop("column_glossary", {})
    databases = metadata.get("databases", {})
    if "*" in databases:
        databases[db_name] = databases.pop("*")
    for database in databases.values():
        for name, table in (database.get("tables") or {}).items():
            if not table.get("hidden"):
                shared = glossary if columns is None else {k: v for k, v in glossary.items() if k in columns.get(name, ())}
                table["columns"] = {**shared, **(table.get("columns") or {})}
    plugins = metadata.setdefault("plugins", {})
    for dashboard in (plugins.get("datasette-dashboards") or {}).values():
        if default_topic and "topic" in dashboard.get("filters", {}):
            dashboard["filters"]["topic"]["default"] = default_topic
        for item in [*dashboard.get("charts", {}).values(), *dashboard.get("filters", {}).values()]:
            if item.get("db") == "*":
                item["db"] = db_name
    if password_env:
        plugins["datasette-auth-passwords"] = {
            f"{username}_password_hash": {"$env": password_env},
            "http_basic_auth": True,
        }
    return metadata


def table_columns(db_path: str | Path) -> dict[str, set[str]] | None:
    """Column names of every table and view of the database; None when it cannot be read."""
    try:
        conn = sqlite3.connect(f"{Path(db_path).resolve().as_uri()}?mode=ro", uri=True)
        try:
            names = [r[0] for r in conn.execute("select name from sqlite_master where type in ('table', 'view')")]
            return {n: {r[0] for r in conn.execute("select name from pragma_table_info(?)", [n])} for n in names}
        finally:
            conn.close()
    except sqlite3.Error:
        return None


def templates_dir() -> str:
    """Datasette template overrides shipped in the package."""
    return str(resources.files("tracker").joinpath("templates", "datasette"))


def register_plugin() -> None:
    """Register the project's plugins once per process (what ``--plugins-dir`` would do)."""
    for name, module in PLUGINS.items():
        if pm.get_plugin(name) is None:
            pm.register(module, name=name)


def prepare_database(db_path: str | Path) -> None:
    """`db.frontend.ensure_frontend` through a writable connection (the index behind search facets);
    a database that cannot be written is served without it (facets then read the documents rows)."""
    try:
        conn = sqlite3.connect(str(db_path), timeout=30)
        try:
            ensure_frontend(sqlite_utils.Database(conn))
        finally:
            conn.close()
    except sqlite3.Error:
        pass


def build_datasette(db_path: str | Path, *, password_env: str | None = None, username: str = "analyst",
                    settings: dict | None = None, default_topic: str | None = None, prepare: bool = True,
                    unsubscribe_secret_env: str | None = None) -> Datasette:
    """A Datasette instance over ``db_path`` with the project's metadata, settings and plugins
    (``unsubscribe_secret_env``: ``[digest] unsubscribe_secret_env``, for the unsubscribe link).

    ``password_env`` names the environment variable holding a datasette-auth-passwords hash; it must
    be set and non-empty, else ``ValueError``.
    """
    if password_env and not os.environ.get(password_env, "").strip():
        raise ValueError(f"environment variable {password_env} is not set (expected a password hash; see `tracker serve --hash-password`)")
    register_plugin()
    db_path = Path(db_path)
    if prepare and db_path.exists():
        prepare_database(db_path)
    metadata = metadata_for(db_path.stem, password_env, username, table_columns(db_path), default_topic)
    if unsubscribe_secret_env:
        metadata.setdefault("plugins", {})[unsubscribe.PLUGIN] = {"secret_env": unsubscribe_secret_env}
    return Datasette(
        [str(db_path)], metadata=metadata, settings={**SETTINGS, **(settings or {})},
        template_dir=templates_dir(),
    )


def _hash_password(ctx: click.Context, _param, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from datasette_auth_passwords.utils import hash_password

    password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    click.echo(hash_password(password))
    ctx.exit()


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on (0.0.0.0 for all).")
@click.option("--port", default=8001, show_default=True, type=click.IntRange(0, 65535))
@click.option("--password-env", metavar="NAME",
              help=f"Require a password: NAME is the environment variable holding its hash (default: {DEFAULT_PASSWORD_ENV} when set).")
@click.option("--user", "username", default="analyst", show_default=True, help="User name for the password.")
@click.option("--hash-password", is_flag=True, is_eager=True, expose_value=False, callback=_hash_password,
              help="Prompt for a password, print its hash (for the environment variable) and exit.")
@pass_app
def serve(app: App, host: str, port: int, password_env: str | None, username: str) -> None:
    """Datasette over the database (read-only for the web) with metadata, canned queries and plugins."""
    import uvicorn

    if password_env is None and os.environ.get(DEFAULT_PASSWORD_ENV, "").strip():
        password_env = DEFAULT_PASSWORD_ENV
    if problem := port_problem(host, port):  # before "serving ...": one line, not a uvicorn error
        raise UsageProblem(f"cannot serve on {host}:{port}: {problem}")
    ensure_frontend(app.open_db(create=True))  # on the connection that migrated it: no second one beside a crawl
    try:
        topics = app.config.topic_list()
        ds = build_datasette(app.db_path, password_env=password_env, username=username, prepare=False,
                             default_topic=topics[0].name if topics else None,
                             unsubscribe_secret_env=app.config.digest.unsubscribe_secret_env)
    except ValueError as exc:
        raise UsageProblem(str(exc)) from None
    asyncio.run(ds.invoke_startup())
    click.echo(f"serving {app.db_path} as /{app.db_path.stem} on http://{host}:{port}/"
               + (f" (password required for user {username!r})" if password_env else " (no password)"), err=True)
    uvicorn.run(ds.app(), host=host, port=port, log_level="warning", lifespan="on", workers=1)
