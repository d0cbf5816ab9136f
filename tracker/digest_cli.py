"""What `tracker digest preview`, `tracker digest send` and `tracker digest subscribers` do (declared
in `tracker.cli`): the weekly digest by hand; the tick sends it on schedule. Time is the clock's
(``--now`` freezes it).

``preview --html FILE`` never overwrites the database (nor its ``-wal``/``-shm``/``-journal``) or
any existing file that is not HTML, and writes through a temporary file renamed into place, so a
failed write leaves the old file as it was.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path

import click

from tracker.app import App, UsageProblem
from tracker.subscriptions import check_address

SQLITE_MAGIC = b"SQLite format 3\x00"
HTML_STARTS = (b"<!doctype html", b"<html")


def _html_target(app: App, html_path: str) -> Path:
    """The path ``--html`` may write, or a one-line UsageProblem."""
    path = Path(html_path).expanduser()
    if not path.parent.is_dir():
        raise UsageProblem(f"--html {html_path}: directory does not exist: {path.parent}")
    target = path.resolve()
    database = app.db_path.resolve()
    if target in {database, *(database.with_name(database.name + s) for s in ("-wal", "-shm", "-journal"))}:
        raise UsageProblem(f"--html {html_path} is the database (or its journal): refusing to overwrite it")
    if target.is_dir():
        raise UsageProblem(f"--html {html_path} is a directory")
    if target.exists() and target.stat().st_size:
        with target.open("rb") as handle:
            head = handle.read(512)
        if head.startswith(SQLITE_MAGIC) or not head.lstrip().lower().startswith(HTML_STARTS):
            raise UsageProblem(f"--html {html_path} exists and is not an HTML file: refusing to overwrite it")
    return target


def _write(target: Path, text: str) -> None:
    """Write ``text`` to ``target`` atomically (temporary file in the same directory, then rename)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def preview(app: App, email: str | None, html_path: str | None, as_text: bool) -> None:
    """Build a subscriber's digest and show it (HTML on stdout or in a file, or the text part); records nothing."""
    from tracker.digest import build_digest  # Jinja and the digest load only for this command

    if email is None:
        if not app.config.digest.subscribers:
            raise UsageProblem("no subscriber configured ([[digest.subscribers]]); use --to EMAIL")
        sub = app.config.digest.subscribers[0]
    else:
        try:
            check_address(email)
        except ValueError as exc:
            raise UsageProblem(f"--to: {exc}") from None
        sub = app.config.digest.find_subscriber(email)
    target = _html_target(app, html_path) if html_path else None
    built = build_digest(app.open_db(create=True), app.config, sub)
    if target is not None:
        try:
            _write(target, built.html_for_file())
        except OSError as exc:
            raise UsageProblem(f"--html {html_path}: cannot write: {exc.strerror or exc}") from None
        click.echo(f"{sub.email}: {built.subject} -> {html_path}", err=as_text)
    if as_text:
        click.echo(built.text)
    elif target is None:
        click.echo(built.html_for_file())


STATUS_TEXT = {"dry-run": "would send", "skipped": "nothing new, skipped", "claimed": "skipped",
               "unknown": "delivery unknown (not resent)", "opted-out": "unsubscribed, not sent",
               "feed-only": "schedule never (feed-only), not sent"}


def send(app: App, dry_run: bool, emails: list[str], as_json: bool = False) -> bool:
    """Send (or with ``dry_run`` only report) the digests of ``emails``, else of every subscriber;
    returns False when a delivery failed or an earlier one was found interrupted (``unknown``)."""
    from tracker.mailer import send_digests  # smtplib and the digest load only for this command

    configured = {s.email.lower() for s in app.config.digest.subscribers}
    unknown = [e for e in emails if e.lower() not in configured]
    if unknown:
        raise UsageProblem(f"not a subscriber: {', '.join(unknown)}")
    if not configured:
        click.echo(json.dumps({"outcomes": [], "dry_run": dry_run, "ok": True}) if as_json
                   else "no subscribers configured ([[digest.subscribers]]): nothing to send")
        return True
    outcomes = send_digests(app.open_db(create=True), app.config, only=emails or None, dry_run=dry_run)
    ok = not any(o.status in ("failed", "unknown") for o in outcomes)
    if as_json:
        click.echo(json.dumps({"outcomes": [asdict(o) for o in outcomes], "dry_run": dry_run, "ok": ok},
                              indent=2, ensure_ascii=False))
        return ok
    for o in outcomes:
        counts = f"{o.mentions} mentions ({o.critical} critical), {o.dossiers} new dossiers"
        click.echo(f"{o.email}: {STATUS_TEXT.get(o.status, o.status)}: {counts}: {o.subject}"
                   + (f": {o.error}" if o.error else ""))
    if dry_run:
        click.echo("dry run: nothing sent, nothing recorded")
    return ok


def subscribers(app: App, as_json: bool) -> list[dict]:
    """`tracker digest subscribers`: each configured subscriber, its state (active, or opted out with
    the date), schedule, time zone, filters, followed items (and those the database does not hold
    yet), last delivery and the deliveries whose outcome is unknown (interrupted after the message
    may have been accepted)."""
    from db import digests as data
    from db.optouts import opted_out
    from tracker.follow import missing_follows
    from tracker.unsubscribe import list_id

    db = app.open_db(create=True)
    settings = app.config.digest
    optouts = opted_out(db, list_id(settings))
    rows = []
    for sub in settings.subscribers:
        history = data.subscriber_deliveries(db, sub.email)
        rows.append({
            "email": sub.email, "state": "opted out" if sub.email.lower() in optouts else "active",
            "opted_out_at": optouts.get(sub.email.lower()), "schedule": sub.schedule or settings.schedule_text,
            "timezone": sub.timezone or settings.timezone,
            "follows": {"dossiers": sub.dossiers, "entities": sub.entities, "searches": sub.searches},
            "not_in_database": missing_follows(db, sub),
            "topics": sub.topics or list(app.config.topics),
            "sources": sub.sources, "min_stance": sub.min_stance, "min_score": sub.min_score,
            "last_sent_at": history["last_sent_at"], "last_attempt_at": history["last_attempt_at"],
            "last_status": history["last_status"], "deliveries": history["counts"],
            "unknown": [{"digest": c["id"], "claimed_at": c["sent_at"], "message_id": c["message_id"],
                         "subject": c["subject"], "error": c["error"]} for c in data.claims(db, "unknown", sub.email)],
        })
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return rows
    if not rows:
        click.echo("no subscribers configured ([[digest.subscribers]])")
    for r in rows:
        state = f"opted out {r['opted_out_at'][:10]}" if r["opted_out_at"] else r["state"]
        followed = [*r["follows"]["dossiers"], *r["follows"]["entities"], *r["follows"]["searches"]]
        click.echo(f"{r['email']}: {state}; schedule {r['schedule']} ({r['timezone']}); topics {', '.join(r['topics']) or '-'}"
                   + (f"; follows {', '.join(followed)}" if followed else "") + f"; last sent "
                   f"{r['last_sent_at'] or 'never'}" + (f"; last attempt {r['last_status']} at {r['last_attempt_at']}"
                                                          if r["last_status"] not in (None, "sent") else ""))
        if r["not_in_database"]:
            click.echo(f"  not in the database yet (no section until it appears): {', '.join(r['not_in_database'])}")
        for u in r["unknown"]:
            click.echo(f"  delivery unknown: digest {u['digest']} claimed at {u['claimed_at']} ({u['message_id']}): "
                       f"{u['subject']}; counted as delivered, not resent")
    return rows
