"""`tracker demo`: build the demonstration database offline, then serve it with Datasette.

Cheap to import (click only): the crawler, the NLP and Datasette are loaded when the command runs,
so registering it keeps `tracker --help` fast.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from tracker.app import App, UsageProblem

HOST = "127.0.0.1"
DEFAULT_DB = "demo.db"


def port_problem(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be served on (in use, not permitted), or None when it is free."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def configured_database(parent: App | None) -> Path:
    """The database `tracker crawl` uses without --db ([database] path, else ./tracker.db): never the demo's."""
    try:
        return App(parent.config_path if parent else None, None).db_path
    except click.ClickException:  # an invalid configuration: the built-in default
        return Path("tracker.db")


@contextlib.contextmanager
def quiet_logs() -> Iterator[None]:
    """Only errors from the log while the demo builds (its progress lines say what each source did);
    everything with ``-v``."""
    root = logging.getLogger()
    previous = root.level
    if not root.isEnabledFor(logging.DEBUG):
        root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(previous)


def things_to_look_at(base: str, db_name: str, db_path: Path, versioned: int | None) -> list[str]:
    """The few pages (and one command) that show the product at its best on the demo data."""
    root = f"{base}/{db_name}"
    lines = [
        f"the dashboard, mentions over time by stance: {base}/-/dashboards/mentions",
        f"critical mentions, each sentence in its context: {root}/mentions?stance=critical",
        f"bills and procedures with their events: {root}/dossiers and {root}/bill_actions",
    ]
    if versioned:
        lines.append(f"a statute amended between the two passes, both versions: {root}/documents/{versioned} "
                     f"and {root}/document_versions?document_id={versioned}")
    lines.append(f"the weekly digest, previewed: tracker --db {db_path} digest preview --to you@example.org --html digest.html")
    return lines


@click.command("demo")
@click.option("--db", "db_path", metavar="PATH",
              help="Demo database to build (default: tracker's --db, else ./demo.db, never the configured database); "
                   "an earlier demo is rebuilt, any other file is refused.")
@click.option("--no-serve", is_flag=True, help="Build only; do not start Datasette.")
@click.option("--port", default=8001, show_default=True, type=click.IntRange(1, 65535), metavar="P",
              help=f"Port to serve on ({HOST}).")
@click.option("--json", "as_json", is_flag=True, help="Print the build report as JSON (progress goes to stderr).")
@click.pass_context
def demo(ctx: click.Context, db_path: str | None, no_serve: bool, port: int, as_json: bool) -> None:
    """Build a demonstration database offline from recorded examples (real crawl path, replayed on
    loopback, real NLP), then serve it with Datasette unless --no-serve. Never touches ./tracker.db."""
    from tracker.demo.build import DemoError, build_demo, check_target

    parent = ctx.obj if isinstance(ctx.obj, App) else None
    path = Path(db_path or (parent.db_override if parent else None) or DEFAULT_DB)
    if path.resolve() == configured_database(parent).resolve():
        raise UsageProblem(f"refusing to build the demo in {path}, the database `tracker crawl` uses (choose another --db)")
    try:
        check_target(path)
    except DemoError as exc:
        raise UsageProblem(str(exc)) from None
    if not no_serve and (problem := port_problem(HOST, port)):
        raise UsageProblem(f"cannot serve on {HOST}:{port}: {problem}; choose another --port (or --no-serve)")
    say = lambda line: click.echo(line, err=as_json)  # noqa: E731 - progress: stdout, or stderr under --json
    say(f"building the demo database {path} from the packaged recordings (replayed on loopback, real crawl and NLP)")
    try:
        with quiet_logs():
            result = build_demo(path, say)
    except DemoError as exc:
        raise UsageProblem(str(exc)) from None
    t = result.totals
    failed = [s["source"] for s in result.passes[0].sources if s["status"] != "ok"]
    say(f"built {path} in {result.seconds:.1f} s: {t['documents']} documents from {t['sources']} sources, "
        f"{t['mentions']} mentions ({t['mentions_with_stance']} with a stance), {t['dossiers']} dossiers with "
        f"{t['events']} events, {t['documents_with_versions']} document(s) with several versions")
    if failed:
        click.echo(f"warning: recordings incomplete for {', '.join(failed)} (the demo still works without them)", err=True)
    base = f"http://{HOST}:{port}"
    look_at = things_to_look_at(base, path.stem, path, t["versioned_document_id"])
    if as_json:
        click.echo(json.dumps({
            "db": str(path), "seconds": round(result.seconds, 2), "totals": t,
            "passes": [{"sources": p.sources, "nlp": p.nlp} for p in result.passes], "misses": result.misses,
            "url": None if no_serve else f"{base}/", "look_at": look_at,
        }, indent=2))
    else:
        click.echo("look at:" if not no_serve else f"to look at it: tracker --db {path} serve --port {port}, then")
        for line in look_at:
            click.echo(f"  - {line}")
    if no_serve:
        if failed:
            sys.exit(1)
        return
    if problem := port_problem(HOST, port):  # taken while the demo was building
        raise UsageProblem(f"cannot serve on {HOST}:{port}: {problem}; the demo is built: tracker --db {path} serve --port P")
    from tracker.serve import serve

    ctx.obj = App(parent.config_path if parent else None, str(path))
    ctx.invoke(serve, host=HOST, port=port)  # `tracker serve`'s own path; its other options keep their defaults
