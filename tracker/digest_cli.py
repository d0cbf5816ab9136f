"""What `tracker digest preview` and `tracker digest send` do (declared in `tracker.cli`): the weekly
digest by hand; the tick sends it on schedule. Time is the clock's (``--now`` freezes it)."""

from __future__ import annotations

from pathlib import Path

import click

from tracker.app import App, UsageProblem
from tracker.digest import build_digest
from tracker.mailer import send_digests


def preview(app: App, email: str | None, html_path: str | None, as_text: bool) -> None:
    """Build a subscriber's digest and show it (HTML on stdout or in a file, or the text part); records nothing."""
    if email is None:
        if not app.config.digest.subscribers:
            raise UsageProblem("no subscriber configured ([[digest.subscribers]]); use --to EMAIL")
        sub = app.config.digest.subscribers[0]
    else:
        sub = app.config.digest.find_subscriber(email)
    built = build_digest(app.open_db(create=True), app.config, sub)
    if html_path:
        Path(html_path).write_text(built.html_for_file(), encoding="utf-8")
        click.echo(f"{sub.email}: {built.subject} -> {html_path}", err=as_text)
    if as_text:
        click.echo(built.text)
    elif not html_path:
        click.echo(built.html_for_file())


def send(app: App, dry_run: bool, emails: list[str]) -> bool:
    """Send (or with ``dry_run`` only report) the digests of ``emails``, else of every subscriber;
    returns False when a delivery failed."""
    configured = {s.email.lower() for s in app.config.digest.subscribers}
    unknown = [e for e in emails if e.lower() not in configured]
    if unknown:
        raise UsageProblem(f"not a subscriber: {', '.join(unknown)}")
    if not configured:
        click.echo("no subscribers configured ([[digest.subscribers]]): nothing to send")
        return True
    outcomes = send_digests(app.open_db(create=True), app.config, only=emails or None, dry_run=dry_run)
    for o in outcomes:
        counts = f"{o.mentions} mentions ({o.critical} critical), {o.dossiers} new dossiers"
        status = {"dry-run": "would send", "skipped": "nothing new, skipped"}.get(o.status, o.status)
        click.echo(f"{o.email}: {status}: {counts}: {o.subject}" + (f": {o.error}" if o.error else ""))
    if dry_run:
        click.echo("dry run: nothing sent, nothing recorded")
    return not any(o.status == "failed" for o in outcomes)
