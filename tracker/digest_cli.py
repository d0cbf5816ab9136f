"""`tracker digest preview` / `tracker digest send`: the weekly digest by hand (the tick sends it on schedule)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from tracker.app import App, UsageProblem, pass_app


def _now(value: str | None):
    from tracker.digest import _aware

    try:
        return _aware(value) if value else None
    except ValueError:
        raise UsageProblem(f"--now: expected an ISO date-time like 2026-11-30T07:00:00+01:00, got {value!r}") from None


@click.group("digest")
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
def preview(app: App, email: str | None, html_path: str | None, as_text: bool, now_iso: str | None) -> None:
    """Build a digest without sending or recording anything."""
    from tracker.digest import build_digest, find_subscriber, subscribers

    if email is None:
        configured = subscribers(app.config)
        if not configured:
            raise UsageProblem("no subscriber configured ([[digest.subscribers]]); use --to EMAIL")
        sub = configured[0]
    else:
        sub = find_subscriber(app.config, email)
    built = build_digest(app.open_db(create=True), app.config, sub, _now(now_iso))
    if html_path:
        Path(html_path).write_text(built.html_for_file(), encoding="utf-8")
        click.echo(f"{sub.email}: {built.subject} -> {html_path}", err=as_text)
    if as_text:
        click.echo(built.text)
    elif not html_path:
        click.echo(built.html_for_file())


@digest.command("send")
@click.option("--dry-run", is_flag=True, help="Show who would get what (subscriber, counts, subject); send nothing.")
@click.option("--to", "emails", multiple=True, metavar="EMAIL", help="Only these subscribers (repeatable).")
@click.option("--now", "now_iso", hidden=True, help="Build as of this ISO time (tests).")
@pass_app
def send(app: App, dry_run: bool, emails: tuple[str, ...], now_iso: str | None) -> None:
    """Send every subscriber the mentions not delivered to them yet (regardless of the schedule).

    Exit status 1 when a digest could not be delivered (it is retried by the next send or tick).
    """
    from tracker.digest import subscribers
    from tracker.mailer import send_digests

    configured = {s.email.lower() for s in subscribers(app.config)}
    unknown = [e for e in emails if e.lower() not in configured]
    if unknown:
        raise UsageProblem(f"not a subscriber: {', '.join(unknown)}")
    if not configured:
        click.echo("no subscribers configured ([[digest.subscribers]]): nothing to send")
        return
    outcomes = send_digests(app.open_db(create=True), app.config, _now(now_iso), only=list(emails) or None, dry_run=dry_run)
    for o in outcomes:
        counts = f"{o.mentions} mentions ({o.critical} critical), {o.dossiers} new dossiers"
        status = {"dry-run": "would send", "skipped": "nothing new, skipped"}.get(o.status, o.status)
        click.echo(f"{o.email}: {status}: {counts}: {o.subject}" + (f": {o.error}" if o.error else ""))
    if dry_run:
        click.echo("dry run: nothing sent, nothing recorded")
    if any(o.status == "failed" for o in outcomes):
        sys.exit(1)
