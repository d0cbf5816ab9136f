"""`tracker`: the command line (see README.md, "Commands"). Every command is registered here.

Start-up stays fast (``tracker --help`` imports neither Datasette nor spaCy nor scikit-learn): each
command imports what it needs in its body, and `serve`, declared with its options in
`tracker.serve`, is loaded only when it runs or its own help is asked for (`tracker.app.CommandGroup`).
"""

from __future__ import annotations

import json
import sys
import time

import click

from db import clock
from tracker import arguments
from tracker.app import App, CommandGroup, UsageProblem, pass_app
from tracker.demo.cli import demo
from tracker.nlp_cli import nlp
from tracker.logs import setup_logging


@click.group(cls=CommandGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", metavar="PATH", help="TOML config (else $TRACKER_CONFIG, else ./tracker.toml, else packaged defaults).")
@click.option("--db", "db_path", metavar="PATH", help="SQLite database (else [database] path, else ./tracker.db).")
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
@click.version_option(package_name="policy-tracker")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, db_path: str | None, verbose: bool) -> None:
    """Track LOGINK and port-data policy across EU and US sources and the news."""
    setup_logging(verbose)
    ctx.obj = App(config_path, db_path)


JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Machine-readable output (shapes: docs/reliability.md, \"JSON output\").")


@cli.command()
@JSON_OPTION
@pass_app
def init(app: App, as_json: bool) -> None:
    """Create or migrate the database (idempotent)."""
    from db.runs import register_sources  # the database layer loads only for this command
    from db.schema import SCHEMA_VERSION, applied_migrations
    from tracker.crawl import source_rows

    existed = app.db_path.exists()
    db = app.open_db(create=True)
    register_sources(db, source_rows(app.config))
    ran = app.migrations_ran
    state = "created" if not existed else "migrated" if ran else "up to date"
    if as_json:
        click.echo(json.dumps({"database": str(app.db_path), "state": state, "schema_version": SCHEMA_VERSION,
                               "migrations": applied_migrations(db), "applied": ran}, indent=2))
        return
    click.echo(f"{app.db_path}: {state} ({len(applied_migrations(db))} migrations"
               f"{', applied ' + ', '.join(ran) if ran and existed else ''})")


@cli.command()
@JSON_OPTION
@pass_app
def sources(app: App, as_json: bool) -> None:
    """List sources: id, title, jurisdiction, base URL, enabled, interval, health, last success, last error."""
    from tracker.health import source_listing, source_listing_lines  # the database layer loads only for this command

    rows = source_listing(app.open_db() if app.db_path.exists() else None, app.config)
    click.echo(json.dumps(rows, indent=2) if as_json else "\n".join(source_listing_lines(rows)))


@cli.command()
@click.argument("source_ids", nargs=-1, metavar="[SOURCE ...]")
@click.option("--since", metavar="DATE", help="Ignore the watermark; collect from this date (YYYY-MM-DD).")
@click.option("--full", is_flag=True, help="Re-read everything, not only what changed.")
@click.option("--max-docs", type=click.IntRange(min=1), metavar="N", help="Stop each source after N documents.")
@click.option("--no-nlp", is_flag=True, help="Store documents without running NLP (run `tracker reprocess` later).")
@JSON_OPTION
@pass_app
def crawl(app: App, source_ids: tuple[str, ...], since: str | None, full: bool, max_docs: int | None, no_nlp: bool,
          as_json: bool) -> None:
    """Incremental crawl (all enabled sources by default), then NLP on new and changed documents.

    A failing source is recorded and the others still run; the exit status is 1 if any source failed,
    was blocked, or failed for some items (``partial``).
    """
    from crawler.registry import SOURCES  # crawler and NLP load only for this command
    from tracker.annotation import annotate_pending
    from tracker.crawl import crawl as run_crawl
    from tracker.offline import held_network_logs, offline_summary

    unknown = [s for s in source_ids if s not in SOURCES]
    if unknown:
        raise UsageProblem(f"unknown source {', '.join(map(repr, unknown))}; known: {', '.join(SOURCES)}")
    if since is not None:
        since = arguments.check_date(since, "--since")
    chosen = list(source_ids) or [sid for sid, conf in app.config.sources.items() if conf.enabled]
    db = app.open_db(create=True)
    with held_network_logs() as held:  # no network at all: one line, not one per source (details: crawl_runs, -v)
        results = run_crawl(db, app.config, chosen, since=since, full=full, max_docs=max_docs)
        offline = offline_summary(results)
        held.release(quiet=offline is not None)
    report = {"sources": [r.as_dict() for r in results], "offline": offline, "nlp": None}
    if offline:
        click.echo(offline, err=True)
        if as_json:
            click.echo(json.dumps({**report, "ok": False}, indent=2))
        sys.exit(1)
    for r in results:
        click.echo(r.summary(requests=True), err=as_json)
    if not no_nlp:
        totals = annotate_pending(db, app.config, progress=sys.stderr.isatty())
        report["nlp"] = {k: totals.get(k) for k in ("documents", "mentions", "new_mentions")}
        click.echo(f"nlp: {totals['documents']} documents annotated, {totals['new_mentions']} new mentions", err=as_json)
    ok = all(r.status == "ok" for r in results)
    if as_json:
        click.echo(json.dumps({**report, "ok": ok}, indent=2))
    if not ok:
        sys.exit(1)


@cli.command()
@click.argument("path", default="-", metavar="[PATH or -]")
@click.option("--jsonl", is_flag=True, help='Input is JSON lines {"id", "text", "lang"?}; one output line per input line.')
@click.option("--lang", metavar="CODE", help="Language of the input (default: identified per document).")
@pass_app
def annotate(app: App, path: str, jsonl: bool, lang: str | None) -> None:
    """NLP only, no database: entities, mentions and stance as JSON."""
    from tracker.annotation import annotate_jsonl, get_annotator  # NLP loads only for this command

    lang = arguments.check_language(lang)
    name = "standard input" if path == "-" else path
    try:
        stream = sys.stdin if path == "-" else open(path, encoding="utf-8")
    except OSError as exc:
        raise UsageProblem(f"cannot read {path}: {exc.strerror}") from None
    with stream:
        if not jsonl:
            text = arguments.read_text(stream, name)
            click.echo(json.dumps(get_annotator(app.config).annotate(text, lang=lang), ensure_ascii=False))
            return
        try:
            failed = annotate_jsonl(get_annotator(app.config), stream, lang, click.echo,
                                    lambda message: click.echo(message, err=True))
        except UnicodeDecodeError as exc:
            raise UsageProblem(f"{name}: not UTF-8 text (a binary file?): undecodable byte at offset {exc.start}") from None
    if failed:
        sys.exit(1)


@cli.command()
@click.option("--all", "all_documents", is_flag=True, help="Re-annotate every document, not only stale ones.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, metavar="N",
              help="Annotate on N processes (the database is written by this process only).")
@pass_app
def reprocess(app: App, all_documents: bool, workers: int) -> None:
    """Rerun NLP over stored documents (after a gazetteer or model change)."""
    from tracker.annotation import annotate_pending

    totals = annotate_pending(app.open_db(create=True), app.config, all_documents=all_documents,
                              progress=sys.stderr.isatty(), workers=workers)
    click.echo(f"reprocessed {totals['documents']} documents: {totals['mentions']} mentions ({totals['new_mentions']} new)")


@cli.command()
@click.argument("query")
@click.option("--entity", metavar="ID", help="Only documents mentioning this entity (e.g. platform:logink).")
@click.option("--since", metavar="DATE", help="Only documents published (or fetched) on or after DATE.")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@JSON_OPTION
@pass_app
def search(app: App, query: str, entity: str | None, since: str | None, limit: int, as_json: bool) -> None:
    """Full-text search over titles and texts.

    Words and "quoted phrases" must all match; ``word*`` is a prefix; ``a OR b``, ``a AND b`` and
    ``a NOT b`` combine terms (NOT needs a term before it); other punctuation is ignored.
    """
    import sqlite3

    from db.search import QueryError, match_expression, search as run_search  # the database layer loads only for this command

    if since is not None:
        since = arguments.check_date(since, "--since")
    try:
        match_expression(query)
    except QueryError as exc:
        raise UsageProblem(f"QUERY: {exc}") from None
    db = app.open_db()
    if entity is not None:
        entity = arguments.check_entity(db, entity)
    try:
        rows = run_search(db, query, entity=entity, since=since, limit=limit)
    except QueryError as exc:
        raise UsageProblem(f"QUERY: {exc}") from None
    except sqlite3.DatabaseError as exc:  # e.g. "database disk image is malformed" in a page the header check cannot see
        raise UsageProblem(f"cannot search {app.db_path}: {exc} (check it with `tracker status`)") from None
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for r in rows:
        click.echo(f"[{r['source']}] {r['published_at'] or '':<10} {r['title']}\n    {r['url']}\n    {r['snippet']}")
    click.echo(f"{len(rows)} result(s)")


@cli.group("digest")
def digest() -> None:
    """Weekly digest of new mentions per subscriber ([digest] in the configuration)."""


@digest.command("preview")
@click.option("--to", "email", metavar="EMAIL", help="Preview this subscriber's digest (default: the first subscriber; "
              "an address that is not a subscriber gets every topic).")
@click.option("--html", "html_path", metavar="FILE", type=click.Path(dir_okay=False),
              help="Write the HTML here (the chart inlined as a data: URI); default: HTML on stdout.")
@click.option("--text", "as_text", is_flag=True, help="Print the plain-text part instead of the HTML.")
@click.option("--now", "now_iso", hidden=True, help="Build as of this ISO time (tests).")
@pass_app
def digest_preview(app: App, email: str | None, html_path: str | None, as_text: bool, now_iso: str | None) -> None:
    """Build a digest without sending or recording anything."""
    from tracker import digest_cli  # the digest (Jinja, mail) loads only for this command

    with arguments.frozen(now_iso):
        digest_cli.preview(app, email, html_path, as_text)


@digest.command("send")
@click.option("--dry-run", is_flag=True, help="Show who would get what (subscriber, counts, subject); send nothing.")
@click.option("--to", "emails", multiple=True, metavar="EMAIL", help="Only these subscribers (repeatable).")
@click.option("--now", "now_iso", hidden=True, help="Build as of this ISO time (tests).")
@JSON_OPTION
@pass_app
def digest_send(app: App, dry_run: bool, emails: tuple[str, ...], now_iso: str | None, as_json: bool) -> None:
    """Send every subscriber the mentions not delivered to them yet (regardless of the schedule).

    Exit status 1 when a digest could not be delivered (it is retried by the next send or tick).
    """
    from tracker import digest_cli  # the digest (Jinja, mail) loads only for this command

    with arguments.frozen(now_iso):
        if not digest_cli.send(app, dry_run, list(emails), as_json=as_json):
            sys.exit(1)


@digest.command("subscribers")
@JSON_OPTION
@pass_app
def digest_subscribers(app: App, as_json: bool) -> None:
    """Subscribers with their state, last delivery and any delivery whose outcome is unknown."""
    from tracker import digest_cli  # the digest bookkeeping loads only for this command

    digest_cli.subscribers(app, as_json)


@cli.command("run")
@click.option("--loop", is_flag=True, help="Keep running: one tick every --every (for containers).")
@click.option("--every", default="15m", show_default=True, metavar="INTERVAL",
              help="Time between ticks with --loop (at least 1m; e.g. 5m, 1h).")
@click.option("--wait", type=click.FloatRange(min=0), default=0, show_default=True, metavar="SECONDS",
              help="When another tick holds the lock, wait this long for it before giving up (exit status 0).")
@click.option("--no-nlp", is_flag=True, help="Crawl and send, but leave NLP to a later tick or `tracker reprocess`.")
@click.option("--no-digest", is_flag=True, help="Do not send digests in this tick.")
@click.option("--now", "now_iso", hidden=True, help="Pretend it is this ISO time (tests).")
@click.option("--ticks", "max_ticks", hidden=True, type=click.IntRange(min=1), help="With --loop: stop after N ticks (tests).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per tick on its own line (docs/reliability.md, \"JSON output\").")
@pass_app
def run(app: App, loop: bool, every: str, wait: float, no_nlp: bool, no_digest: bool, now_iso: str | None,
        max_ticks: int | None, as_json: bool) -> None:
    """The scheduled tick: crawl the sources that are due, run NLP, send the digests that are due.

    A lock prevents overlapping runs: when another tick is running this one waits up to --wait
    seconds, then exits with status 0 and a message. Exit status 1 when a source or a digest failed
    (not with --loop, which keeps going).
    """
    from tracker.tick import locked_tick  # crawler, NLP and mail load only for this command

    from datetime import timedelta

    pause = arguments.interval(every, "--every", arguments.MIN_LOOP_S)
    now = arguments.instant(now_iso)
    db = app.open_db(create=True)
    count = 0
    while True:
        with clock.frozen(now):
            result = locked_tick(db, app.config, app.db_path, wait, not no_nlp, not no_digest,
                                 lambda line: click.echo(line, err=as_json))
        if as_json:
            click.echo(json.dumps(result.as_dict(), ensure_ascii=False))
        count += 1
        if not loop:
            if result.failed:
                sys.exit(1)
            return
        if max_ticks and count >= max_ticks:
            return
        if now is None:
            time.sleep(pause)
        else:  # --now (tests): the loop's time is simulated, each tick --every later, without sleeping
            now += timedelta(seconds=pause)


@cli.command("schedule")
@click.option("--cron", "kind", flag_value="cron", help="Print a crontab line.")
@click.option("--systemd", "kind", flag_value="systemd", help="Print a .service (Type=oneshot) and a .timer unit.")
@click.option("--every", default="15m", show_default=True, metavar="INTERVAL", help="How often the tick runs.")
@click.option("--write", "out_dir", metavar="DIR", type=click.Path(file_okay=False),
              help="With --systemd: write the unit files into DIR, an existing directory (e.g. /etc/systemd/system).")
@pass_app
def schedule(app: App, kind: str | None, every: str, out_dir: str | None) -> None:
    """Print the scheduler configuration for this installation (cron or systemd timer)."""
    from tracker import schedule as scheduler  # the configuration loads only for this command

    if kind is None:
        raise UsageProblem("choose --cron or --systemd")
    if kind == "cron" and out_dir:
        raise UsageProblem("--write is for --systemd")
    scheduler.emit(app, kind, scheduler.every_minutes(every, arguments.interval(every, "--every")), out_dir)


@cli.command()
@JSON_OPTION
@click.option("--now", "now_iso", hidden=True, help="Evaluate at this ISO time (tests).")
@pass_app
def status(app: App, as_json: bool, now_iso: str | None) -> None:
    """Source health: last success, staleness, last error; first, the database file is checked.

    Exit status 1 when any enabled source is stale or failing, or a digest delivery is of unknown outcome
    (for monitoring), else 0; 2 when the
    database is missing, corrupted or from a newer schema.
    """
    from tracker import health  # the database layer loads only for this command
    from tracker.app import read_only

    now = arguments.instant(now_iso)
    exists = app.db_path.exists()
    # migrate an existing, writable database; a missing one is an error; a read-only one is read as it is
    db = app.open_db(create=exists and read_only(app.db_path) is None, check=True)
    rows = health.source_health(db, app.config, now)
    unknown = health.unknown_deliveries(db)
    click.echo(json.dumps(rows, indent=2) if as_json else "\n".join(health.status_lines(rows) + unknown))
    if health.alerting(rows) or unknown:
        sys.exit(1)


cli.add_command(demo)  # declared with its options in tracker/demo/cli.py (cheap to import: click only)
cli.add_command(nlp)  # `tracker nlp train/evaluate`, declared in tracker/nlp_cli.py (click only at import)


def main() -> None:
    """Console-script entry point."""
    cli()
