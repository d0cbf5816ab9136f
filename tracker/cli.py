"""`tracker`: the command line (see README.md, "Commands")."""

from __future__ import annotations

import json
import sys

import click

from tracker.app import App, UsageProblem, pass_app
from tracker.logs import setup_logging


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", metavar="PATH", help="TOML config (else $TRACKER_CONFIG, else ./tracker.toml, else packaged defaults).")
@click.option("--db", "db_path", metavar="PATH", help="SQLite database (else [database] path, else ./tracker.db).")
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
@click.version_option(package_name="policy-tracker")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, db_path: str | None, verbose: bool) -> None:
    """Track LOGINK and port-data policy across EU and US sources and the news."""
    setup_logging(verbose)
    ctx.obj = App(config_path, db_path)


@cli.command()
@pass_app
def init(app: App) -> None:
    """Create or migrate the database (idempotent)."""
    from db.schema import applied_migrations
    from db.writes import register_sources
    from tracker.crawl import source_rows

    existed = app.db_path.exists()
    db = app.open_db(create=True)
    register_sources(db, source_rows(app.config))
    ran = app.migrations_ran
    state = "created" if not existed else "migrated" if ran else "up to date"
    click.echo(f"{app.db_path}: {state} ({len(applied_migrations(db))} migrations"
               f"{', applied ' + ', '.join(ran) if ran and existed else ''})")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def sources(app: App, as_json: bool) -> None:
    """List sources: id, title, jurisdiction, base URL, enabled, interval, last success, last error."""
    from crawler.registry import SOURCES
    from db.reads import source_rows

    stored = source_rows(app.open_db()) if app.db_path.exists() else {}
    rows = []
    for sid, cls in SOURCES.items():
        conf = app.config.sources[sid]
        state = stored.get(sid, {})
        rows.append({
            "id": sid, "title": cls.title, "jurisdiction": cls.jurisdiction, "base_url": conf.base_url,
            "enabled": conf.enabled, "interval": conf.interval, "last_success_at": state.get("last_success_at"),
            "last_status": state.get("last_status"), "last_error": state.get("last_error"),
        })
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        click.echo(f"{r['id']:<17} {'on ' if r['enabled'] else 'off'} {r['jurisdiction']:<3} every {r['interval']:<4} "
                   f"{r['base_url'] or '(feeds)'}\n{'':<22}{r['title']}; last success: {r['last_success_at'] or 'never'}"
                   + (f"; last error: {r['last_error']}" if r["last_error"] else ""))


@cli.command()
@click.argument("source_ids", nargs=-1, metavar="[SOURCE ...]")
@click.option("--since", metavar="DATE", help="Ignore the watermark; collect from this date (YYYY-MM-DD).")
@click.option("--full", is_flag=True, help="Re-read everything, not only what changed.")
@click.option("--max-docs", type=click.IntRange(min=1), metavar="N", help="Stop each source after N documents.")
@click.option("--no-nlp", is_flag=True, help="Store documents without running NLP (run `tracker reprocess` later).")
@pass_app
def crawl(app: App, source_ids: tuple[str, ...], since: str | None, full: bool, max_docs: int | None, no_nlp: bool) -> None:
    """Incremental crawl (all enabled sources by default), then NLP on new and changed documents.

    A failing source is recorded and the others still run; the exit status is 1 if any source failed,
    was blocked, or failed for some items (``partial``).
    """
    from crawler.registry import SOURCES
    from tracker.annotation import annotate_pending
    from tracker.crawl import crawl as run_crawl

    unknown = [s for s in source_ids if s not in SOURCES]
    if unknown:
        raise UsageProblem(f"unknown source {', '.join(map(repr, unknown))}; known: {', '.join(SOURCES)}")
    if since:
        _check_date(since, "--since")
    chosen = list(source_ids) or [sid for sid, conf in app.config.sources.items() if conf.enabled]
    db = app.open_db(create=True)
    results = run_crawl(db, app.config, chosen, since=since, full=full, max_docs=max_docs)
    for r in results:
        c = r.counts
        click.echo(f"{r.source}: {r.status} (new {c['new']}, updated {c['updated']}, unchanged {c['unchanged']}, "
                   f"errors {c['errors']}, requests {c['requests']})" + (f": {r.message}" if r.message else ""))
    if not no_nlp:
        totals = annotate_pending(db, app.config, progress=sys.stderr.isatty())
        click.echo(f"nlp: {totals['documents']} documents annotated, {totals['new_mentions']} new mentions")
    if any(r.status != "ok" for r in results):
        sys.exit(1)


def _check_date(value: str, option: str) -> None:
    from datetime import date

    try:
        date.fromisoformat(value[:10])
    except ValueError:
        raise UsageProblem(f"{option}: expected a date like 2024-01-31, got {value!r}") from None


@cli.command()
@click.argument("path", default="-", metavar="[PATH or -]")
@click.option("--jsonl", is_flag=True, help='Input is JSON lines {"id", "text", "lang"?}; one output line per input line.')
@click.option("--lang", metavar="CODE", help="Language of the input (default: identified per document).")
@pass_app
def annotate(app: App, path: str, jsonl: bool, lang: str | None) -> None:
    """NLP only, no database: entities, mentions and stance as JSON."""
    from tracker.annotation import annotate_jsonl, get_annotator

    try:
        stream = sys.stdin if path == "-" else open(path, encoding="utf-8")
    except OSError as exc:
        raise UsageProblem(f"cannot read {path}: {exc.strerror}") from None
    annotator = get_annotator(app.config)
    with stream:
        if not jsonl:
            result = annotator.annotate(stream.read(), lang=lang)
            click.echo(json.dumps(result, ensure_ascii=False))
            return
        failed = annotate_jsonl(annotator, stream, lang, click.echo, lambda message: click.echo(message, err=True))
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
@click.option("--json", "as_json", is_flag=True)
@pass_app
def search(app: App, query: str, entity: str | None, since: str | None, limit: int, as_json: bool) -> None:
    """Full-text search over titles and texts."""
    from db.reads import search as run_search

    if since:
        _check_date(since, "--since")
    if not query.strip():
        raise UsageProblem("QUERY is empty")
    rows = run_search(app.open_db(), query, entity=entity, since=since, limit=limit)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for r in rows:
        click.echo(f"[{r['source']}] {r['published_at'] or '':<10} {r['title']}\n    {r['url']}\n    {r['snippet']}")
    click.echo(f"{len(rows)} result(s)")


@cli.group()
def nlp() -> None:
    """Train and evaluate the stance model."""


def _stance_corpus(app: App, corpus_path: str | None, labels: str | None, no_corpus: bool):
    """The real-text corpus for `nlp train` / `nlp evaluate` (None with --no-corpus).

    Path: --corpus, else ``[nlp] stance_corpus`` (relative to the config file), else
    ``../shared/corpora/stance-real`` relative to the working directory. Bad lines are named on
    stderr and skipped; a missing corpus is a usage error unless --no-corpus asks for own data only.
    """
    from pathlib import Path

    from nlp import stance_corpus

    if no_corpus:
        return None
    configured = app.config.nlp.get("stance_corpus")
    if corpus_path:
        path = Path(corpus_path)
    elif configured:
        path = Path(configured)
        if not path.is_absolute() and app.config.path is not None:
            path = Path(app.config.path).parent / path
    else:
        path = stance_corpus.DEFAULT_CORPUS
    try:
        corpus = stance_corpus.read_corpus(path, labels)
    except stance_corpus.CorpusMissing as exc:
        raise UsageProblem(f"{exc}; pass --corpus PATH, or --no-corpus to use the project's own data only") from None
    for problem in corpus.problems:
        click.echo(f"warning: {problem}", err=True)
    click.echo(f"stance corpus {path}: {len(corpus.records)} passages used, {len(corpus.problems)} problem(s), "
               f"{corpus.unlabelled} without an adjudicated label (skipped)", err=True)
    return corpus


_CORPUS_OPTIONS = (
    click.option("--corpus", "corpus_path", metavar="PATH",
                 help="Real-text stance corpus (default: [nlp] stance_corpus, else ../shared/corpora/stance-real)."),
    click.option("--labels", type=click.Path(exists=True, dir_okay=False),
                 help="Adjudicated labels by passage id (default: nlp/stance_data/real_labels.jsonl)."),
    click.option("--no-corpus", is_flag=True, help="Use the project's own data only."),
)


def _corpus_options(func):  # a click decorator
    for option in reversed(_CORPUS_OPTIONS):
        func = option(func)
    return func


@nlp.command("train")
@click.option("--data", type=click.Path(exists=True, dir_okay=False), help="Labelled JSONL (default: the packaged dataset).")
@click.option("--out", type=click.Path(dir_okay=False), help="Model file (default: the packaged model path).")
@_corpus_options
@pass_app
def nlp_train(app: App, data: str | None, out: str | None, corpus_path: str | None, labels: str | None,
              no_corpus: bool) -> None:
    """Train the stance model on the real corpus + the project's train split and save it."""
    from nlp import stance_train

    report = stance_train.train(_stance_corpus(app, corpus_path, labels, no_corpus), data_path=data, out_path=out)
    click.echo(f"stance model {report['model_version']} -> {report['model_path']}: {report['n_real']} real passages + "
               f"{report['n_own']} project windows, fitted in {report['fit_seconds']} s")


@nlp.command("evaluate")
@click.option("--data", type=click.Path(exists=True, dir_okay=False))
@click.option("--model", type=click.Path(exists=True, dir_okay=False))
@click.option("--folds", type=click.IntRange(2, 20), default=5, show_default=True, help="Grouped CV folds over the real corpus.")
@click.option("--no-cross-target", is_flag=True, help="Skip the per-target leave-out runs.")
@_corpus_options
@click.option("--json", "as_json", is_flag=True)
@pass_app
def nlp_evaluate(app: App, data: str | None, model: str | None, folds: int, no_cross_target: bool,
                 corpus_path: str | None, labels: str | None, no_corpus: bool, as_json: bool) -> None:
    """Real-text grouped CV (per language, target, hard case), cross-target, and the project split."""
    from nlp import stance_eval

    corpus = _stance_corpus(app, corpus_path, labels, no_corpus)
    report = stance_eval.evaluate(corpus, data_path=data, model_path=model, folds=folds, cross=not no_cross_target)
    click.echo(json.dumps(report, indent=2, ensure_ascii=False) if as_json else stance_eval.format_report(report))


def _register_feature_commands() -> None:
    from tracker.digest_cli import digest
    from tracker.health import status
    from tracker.schedule import schedule
    from tracker.serve import serve
    from tracker.tick import run

    for command in (serve, digest, run, schedule, status):
        cli.add_command(command)


_register_feature_commands()


def main() -> None:
    """Console-script entry point."""
    cli()
