"""Datasette plugin for `tracker serve`: what changed between versions of a document.

- the page ``/-/diff/<document id>?from=1&to=2`` (defaults: the latest version against the one
  before it) and ``/-/diff/<document id>?against=<document id>`` (a bill's text version against its
  previous one, another document): the readable diff of `tracker.diff` (additions ``<ins>``,
  deletions ``<del>``, unchanged text folded, section labels), its one-line summary and links to
  every other pair of consecutive versions. ``?db=`` names the database when several are served.
- ``extra_template_vars`` on a document's row page (``_version_diffs.html``, included by
  ``row.html``): for a document with several versions (or a bill text with an earlier text version),
  the latest change inline and a link per pair of consecutive versions with its summary.

Texts come from `db.versions`; the diff runs off the event loop and is bounded by `tracker.diff`.
"""

from __future__ import annotations

import asyncio
from itertools import pairwise
from urllib.parse import urlencode

import sqlite_utils
from datasette import hookimpl
from datasette.utils.asgi import Response
from markupsafe import escape

from db import versions
from tracker.diff import TextDiff, diff_texts
from tracker.plugins.routes import allowed, target_database

MAX_PAIRS = 20              # consecutive pairs listed on a page
INLINE_CHARS = 2_000_000    # the row page diffs inline only texts up to this size (both together)
SUMMARY_CHARS = 400_000     # ... and summarises the other pairs only up to this size


def _wrap(conn) -> sqlite_utils.Database:
    return sqlite_utils.Database(conn, recursive_triggers=False, execute_plugins=False)


def diff_url(datasette, document_id: int, old: dict, new: dict, database: str | None = None) -> str:
    """The diff page's path for a pair from `db.versions.pair`."""
    if old["document_id"] != new["document_id"]:
        query = {"against": old["document_id"]}
    else:
        query = {"from": old["version"], "to": new["version"]}
    if database and database != next((n for n in datasette.databases if not n.startswith("_")), None):
        query["db"] = database
    return datasette.urls.path(f"/-/diff/{document_id}?{urlencode(query)}")


def _int(value: str | None, name: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {value!r}") from None
    if number < 1:
        raise ValueError(f"{name} must be 1 or more")
    return number


def _problem(status: int, message: str) -> Response:
    return Response.html(f"<!DOCTYPE html><title>{escape(message)}</title><p>{escape(message)}</p>", status=status)


async def _allowed(datasette, request, database: str) -> bool:
    return await allowed(datasette, request, [("view-table", (database, "documents")),
                                                           ("view-database", database), "view-instance"])


async def diff_page(datasette, request) -> Response:
    database = target_database(datasette, request)
    if database is None:
        return _problem(404, "no such database")
    if not await _allowed(datasette, request, database):
        return _problem(403, "not allowed")
    document_id = int(request.url_vars["document_id"])
    try:
        wanted = {k: _int(request.args.get(k), k) for k in ("from", "to", "against")}
    except ValueError as exc:
        return _problem(400, str(exc))

    def read(conn):
        db = _wrap(conn)
        head = versions.document_head(db, document_id)
        if head is None:
            return None
        texts = versions.pair(db, document_id, wanted["from"], wanted["to"], wanted["against"])
        against = versions.document_head(db, wanted["against"]) if wanted["against"] else None
        return head, texts, versions.versions(db, document_id), versions.previous_text_version(db, document_id), against

    found = await datasette.get_database(database).execute_fn(read)
    if found is None:
        return _problem(404, f"no document {document_id}")
    head, texts, stored, previous, against = found
    if texts is None:
        return _problem(404, f"document {document_id} has no such pair of versions")
    old, new = texts
    diff: TextDiff = await asyncio.get_running_loop().run_in_executor(None, diff_texts, old["text"] or "", new["text"] or "")
    context = {
        "head": head, "old": _side(old, against), "new": _side(new, None), "diff": diff,
        "document_url": datasette.urls.row(database, "documents", document_id),
        "pairs": _pairs(datasette, database, document_id, stored, previous),
    }
    return Response.html(await datasette.render_template("diff.html", context, request=request))


def _side(text: dict, other_document: dict | None) -> dict:
    label = f"version {text['version']}"
    if other_document is not None:
        label = other_document["title"] or f"document {other_document['id']}"
    return {"label": label, "fetched_at": (text.get("fetched_at") or "")[:10], "title": text.get("title")}


def _pairs(datasette, database: str, document_id: int, stored: list[dict], previous: dict | None) -> list[dict]:
    """Links to every pair of consecutive versions (newest first), and to the previous text version of a bill."""
    pairs = []
    for older, newer in list(pairwise(stored))[::-1][:MAX_PAIRS]:
        pairs.append({"label": f"version {older['version']} → {newer['version']}", "date": (newer["fetched_at"] or "")[:10],
                      "url": diff_url(datasette, document_id, {"document_id": document_id, "version": older["version"]},
                                      {"document_id": document_id, "version": newer["version"]}, database),
                      "older": older, "newer": newer})
    if previous is not None:
        pairs.append({"label": f"from the previous text version: {previous['title'] or previous['id']}",
                      "date": (previous.get("published_at") or "")[:10],
                      "url": diff_url(datasette, document_id, {"document_id": previous["id"]}, {"document_id": document_id},
                                      database), "older": None, "newer": None})
    return pairs


async def row_panel(datasette, database: str, pks: str) -> dict:
    """``version_diffs`` for a document's row page: pairs with summaries, the latest change inline."""
    try:
        document_id = int(pks)
    except ValueError:
        return {}

    def read(conn):
        db = _wrap(conn)
        stored = versions.versions(db, document_id)
        previous = versions.previous_text_version(db, document_id)
        if len(stored) < 2 and previous is None:
            return None
        small = {}
        for older, newer in list(pairwise(stored))[::-1][:MAX_PAIRS]:
            if (older["chars"] or 0) + (newer["chars"] or 0) <= SUMMARY_CHARS:
                small[newer["version"]] = versions.pair(db, document_id, older["version"], newer["version"])
        latest = None
        if previous is not None:
            latest = versions.pair(db, document_id, against=previous["id"])
        elif (stored[-1]["chars"] or 0) + (stored[-2]["chars"] or 0) <= INLINE_CHARS:
            latest = small.get(stored[-1]["version"]) or versions.pair(db, document_id)
        return stored, previous, small, latest

    found = await datasette.get_database(database).execute_fn(read)
    if found is None:
        return {}
    stored, previous, small, latest = found

    def compute():
        summaries = {v: diff_texts(p[0]["text"] or "", p[1]["text"] or "").summary for v, p in small.items() if p}
        return summaries, diff_texts(latest[0]["text"] or "", latest[1]["text"] or "") if latest else None

    summaries, latest_diff = await asyncio.get_running_loop().run_in_executor(None, compute)
    pairs = _pairs(datasette, database, document_id, stored, previous)
    for p in pairs:
        p["summary"] = summaries.get(p["newer"]["version"]) if p["newer"] else (latest_diff.summary if latest_diff else None)
    panel = {"pairs": pairs, "latest": latest_diff, "count": len(stored)}
    if latest is not None:
        panel["latest_label"] = pairs[-1]["label"] if previous is not None else pairs[0]["label"]
        panel["latest_url"] = pairs[-1]["url"] if previous is not None else pairs[0]["url"]
    return {"version_diffs": panel}


@hookimpl
def register_routes():
    return [(r"^/-/diff/(?P<document_id>\d{1,18})$", diff_page)]


@hookimpl
def extra_template_vars(template, database, table, view_name, request, datasette):
    if request is None or view_name != "row" or table != "documents" or "pks" not in request.url_vars:
        return {}

    async def panel():
        return await row_panel(datasette, database, request.url_vars["pks"])
    return panel
