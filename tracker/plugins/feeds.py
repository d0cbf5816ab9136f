"""Datasette plugin for `tracker serve`: Atom feeds of everything one can follow, and links to them.

Routes (newest 50 entries each; ``?db=`` names the database when several are served):

- ``/-/feeds/topic/<topic>.atom``: the topic's classified mentions;
- ``/-/feeds/entity/<entity id>.atom``: the entity's mentions (``platform:logink``, ``port:NLRTM``);
- ``/-/feeds/dossier/<dossier key>.atom``: a bill's or procedure's events and documents
  (``us-bill:118-hr-1724``, ``ep-procedure:2023/2059(INI)``; the key URL-encoded);
- ``/-/feeds/search.atom?q=...``: documents matching a saved search (the search syntax of the
  ranked search page; what cannot be searched is a 400 with the one-line reason).
  ``/<db>/search_documents.atom?q=`` (which the canned query cannot answer: it has no Atom columns)
  redirects there.

Written with feedgen (valid Atom 1.0: feed and entry ids, titles, updated, author, self link).
Titles are text and contents HTML built with markupsafe, both escaped by the XML writer; characters
XML cannot carry are dropped. Only http(s) URLs become links: an entry links to the original
document when its URL is http(s), else to its page in the tracker. A search runs with a deadline
(`SEARCH_TIME_LIMIT_MS`).

``extra_template_vars`` gives ``feed_links`` (rendered as ``<link rel="alternate"
type="application/atom+xml">`` by ``_feed_links.html``, included by ``base.html``) on the pages of
what they follow: an entity's and a dossier's row page, the ranked search page, the entity mentions
and topic documents queries, the mentions table filtered by entity or topic, and the home page (one
per topic).
"""

from __future__ import annotations

import re
import sqlite3
import time
from datetime import datetime
from urllib.parse import quote, unquote, urlencode

import sqlite_utils
from datasette import hookimpl
from datasette.utils import tilde_decode
from datasette.utils.asgi import Response
from feedgen.feed import FeedGenerator
from markupsafe import Markup

from db import clock
from db import feeds as data
from db.frontend import fts_query
from tracker.highlight import highlight_html
from tracker.plugins.reading import is_http
from tracker.plugins.routes import allowed, target_database

ATOM = "application/atom+xml; charset=utf-8"
LIMIT = 50
SEARCH_TIME_LIMIT_MS = 3000
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text) -> str:
    return _NOT_XML.sub("", str(text or ""))


def _when(value: str | None) -> datetime:
    try:
        return clock.aware(value) if value else clock.now()
    except ValueError:
        return clock.now()


def _problem(status: int, message: str) -> Response:
    return Response.text(message + "\n", status=status)


class _Feed:
    """One feed being written (feedgen), with the request's absolute URLs."""

    def __init__(self, datasette, request, database: str, title: str, page_path: str):
        self.datasette, self.request, self.database = datasette, request, database
        self.url = datasette.absolute_url(request, request.full_path)
        self.gen = FeedGenerator()
        self.gen.id(self.url)
        self.gen.title(_clean(title))
        self.gen.author({"name": "policy-tracker"})
        self.gen.link(href=self.url, rel="self", type="application/atom+xml")
        self.gen.link(href=self.absolute(page_path), rel="alternate", type="text/html")
        self.gen.generator("policy-tracker")
        self.latest: datetime | None = None

    def absolute(self, path: str) -> str:
        return self.datasette.absolute_url(self.request, self.datasette.urls.path(path))

    def tracker(self, table: str, key) -> str:
        return self.datasette.absolute_url(self.request, self.datasette.urls.row(self.database, table, str(key)))

    def entry(self, entry_id: str, title: str, updated: str | None, link: str | None, page: str, content: Markup) -> None:
        when = _when(updated)
        self.latest = max(self.latest or when, when)
        fe = self.gen.add_entry(order="append")
        fe.id(entry_id)
        fe.title(_clean(title) or "(untitled)")
        fe.updated(when)
        fe.link(href=link if is_http(link) else page)  # one link: feedgen 1.0 writes no rel on entry links (alternate)
        fe.content(_clean(content), type="html")

    def response(self) -> Response:
        self.gen.updated(self.latest or clock.now())
        return Response(self.gen.atom_str(pretty=True), content_type=ATOM)

    def mentions(self, rows: list[dict]) -> None:
        for r in rows:
            stance = r["stance"] or "unclassified"
            content = Markup("<p>{}</p><p>{} · {} · {} · {}{}</p>").format(
                highlight_html(_clean(r["sentence"] or r["text"]), r["text"], r["start"], r["end"]),
                r["source"], (r["published_at"] or "")[:10] or "undated", stance, r["topic"] or "no topic",
                Markup(' · <a href="{}">in the tracker</a>').format(self.tracker("mentions", r["id"])))
            self.entry(f"urn:policy-tracker:mention:{r['id']}", f"{r['entity'] or r['entity_id']} ({stance}): {r['title'] or '(untitled)'}",
                       r["first_seen_at"], r["url"], self.tracker("mentions", r["id"]), content)

    def documents(self, rows: list[dict]) -> None:
        for r in rows:
            content = Markup('<p>{} · {} · {}{} · <a href="{}">in the tracker</a></p><p>{} …</p>').format(
                r["source"], r["doc_type"] or "document", (r["published_at"] or "")[:10] or "undated",
                Markup(" · stance {}").format(r["stance"]) if r["stance"] else "", self.tracker("documents", r["id"]),
                _clean(r["snippet"]))
            self.entry(f"urn:policy-tracker:document:{r['id']}", r["title"] or "(untitled)", r["first_seen_at"], r["url"],
                       self.tracker("documents", r["id"]), content)


def _wrap(conn) -> sqlite_utils.Database:
    return sqlite_utils.Database(conn, recursive_triggers=False, execute_plugins=False)


def _deadline(conn: sqlite3.Connection, ms: int) -> None:
    stop = time.monotonic() + ms / 1000
    conn.set_progress_handler(lambda: 1 if time.monotonic() > stop else 0, 10_000)


async def _read(datasette, database: str, fn, ms: int | None = None):
    def run(conn):
        if ms:
            _deadline(conn, ms)
        try:
            return fn(_wrap(conn))
        finally:
            if ms:
                conn.set_progress_handler(None, 0)
    return await datasette.get_database(database).execute_fn(run)


async def _allowed(datasette, request, database: str) -> bool:
    return await allowed(datasette, request, [("view-database", database), "view-instance"])


async def feed_page(datasette, request) -> Response:
    database = target_database(datasette, request)
    if database is None:
        return _problem(404, "no such database")
    if not await _allowed(datasette, request, database):
        return _problem(403, "not allowed")
    kind, value = request.url_vars.get("kind", "search"), request.url_vars.get("value")
    if kind == "search":
        return await _search_feed(datasette, request, database)
    value = unquote(value)
    if kind == "topic":
        def read(db):
            return data.topic_mentions(db, value, LIMIT) if data.topic_exists(db, value) else None
        rows = await _read(datasette, database, read)
        if rows is None:
            return _problem(404, f"no mentions of topic {value!r}")
        feed = _Feed(datasette, request, database, f"Topic {value}: new mentions", f"/{database}/mentions?{urlencode({'topic': value})}")
        feed.mentions(rows)
        return feed.response()
    if kind == "entity":
        def read_entity(db):
            found = data.entity(db, value)
            return (found, data.entity_mentions(db, found["id"], LIMIT)) if found else (None, [])
        entity, rows = await _read(datasette, database, read_entity)
        if entity is None:
            return _problem(404, f"no entity {value!r}")
        feed = _Feed(datasette, request, database, f"{entity['name']}: new mentions", datasette.urls.row(database, "entities", entity["id"]))
        feed.mentions(rows)
        return feed.response()
    found = await _read(datasette, database, lambda db: (data.dossier(db, value), data.dossier_events(db, value, LIMIT),
                                                         data.dossier_documents(db, value, LIMIT)))
    if found[0] is None:
        return _problem(404, f"no dossier {value!r}")
    dossier, events, documents = found
    feed = _Feed(datasette, request, database, f"{dossier['title'] or dossier['key']}: events and documents",
                 datasette.urls.row(database, "dossiers", value))
    for ev in events:
        content = Markup("<p>{}</p><p>{} · {}{}</p>").format(
            _clean(ev["description"]), ev["date"] or "undated", ev["kind"] or "event",
            Markup(" · {}").format(_clean(ev["actor"])) if ev["actor"] else "")
        feed.entry(f"urn:policy-tracker:event:{ev['id']}", f"{ev['date'] or 'undated'}: {ev['description'] or ev['kind']}",
                   ev["date"], ev["ref_url"], feed.tracker("events", ev["id"]), content)
    feed.documents(documents)
    return feed.response()


async def _search_feed(datasette, request, database: str) -> Response:
    text = request.args.get("q", "")
    try:
        match = fts_query(text)
    except ValueError as exc:
        return _problem(400, f"cannot search: {exc}")
    try:
        rows = await _read(datasette, database, lambda db: data.search_documents(db, match, LIMIT), SEARCH_TIME_LIMIT_MS)
    except sqlite3.OperationalError as exc:
        if "interrupted" in str(exc):
            return _problem(503, f"the search took longer than {SEARCH_TIME_LIMIT_MS} ms: make it narrower")
        raise
    feed = _Feed(datasette, request, database, f"Search: {text}", f"/{database}/search_documents?{urlencode({'q': text})}")
    feed.documents(rows)
    return feed.response()


async def search_redirect(datasette, request) -> Response:
    """``/<db>/search_documents.atom?q=`` -> the search feed."""
    database = request.url_vars["database"]
    query = {"q": request.args.get("q", "")}
    if database != target_database(datasette, request):
        query["db"] = database
    return Response.redirect(datasette.urls.path(f"/-/feeds/search.atom?{urlencode(query)}"))


def feed_path(datasette, kind: str, value: str | None = None, database: str | None = None) -> str:
    """The feed's path: ``kind`` topic, entity, dossier (with ``value``) or search (``value``: the query)."""
    extra = {"db": database} if database and database != next((n for n in datasette.databases if not n.startswith("_")), None) else {}
    if kind == "search":
        return datasette.urls.path(f"/-/feeds/search.atom?{urlencode({'q': value or '', **extra})}")
    return datasette.urls.path(f"/-/feeds/{kind}/{quote(value or '', safe='')}.atom" + (f"?{urlencode(extra)}" if extra else ""))


@hookimpl
def register_routes():
    return [
        (r"^/-/feeds/search\.atom$", feed_page),
        (r"^/-/feeds/(?P<kind>topic|entity|dossier)/(?P<value>.+)\.atom$", feed_page),
        (r"^/(?P<database>[^/]+)/search_documents\.atom$", search_redirect),
    ]


def _links(datasette, template, database, table, view_name, request) -> list[dict]:
    args = request.args
    if view_name == "row" and table in ("entities", "dossiers") and "pks" in request.url_vars:
        key = tilde_decode(request.url_vars["pks"])
        kind = "entity" if table == "entities" else "dossier"
        return [{"title": f"Atom feed of {key}", "href": feed_path(datasette, kind, key, database)}]
    if view_name == "table" and table == "mentions":
        links = []
        if args.get("entity_id"):
            links.append({"title": f"Atom feed of {args.get('entity_id')}", "href": feed_path(datasette, "entity", args.get("entity_id"), database)})
        if args.get("topic"):
            links.append({"title": f"Atom feed of topic {args.get('topic')}", "href": feed_path(datasette, "topic", args.get("topic"), database)})
        return links
    if template == "query.html" and database:
        name = request.path.rstrip("/").split("/")[-1]
        if name == "search_documents" and args.get("q", "").strip():
            return [{"title": f"Atom feed of the search {args.get('q')}", "href": feed_path(datasette, "search", args.get("q"), database)}]
        if name == "entity_mentions" and args.get("entity", "").strip():
            return [{"title": f"Atom feed of {args.get('entity')}", "href": feed_path(datasette, "entity", args.get("entity"), database)}]
        if name == "topic_documents" and args.get("topic", "").strip():
            return [{"title": f"Atom feed of topic {args.get('topic')}", "href": feed_path(datasette, "topic", args.get("topic"), database)}]
    return []


@hookimpl
def extra_template_vars(template, database, table, view_name, request, datasette):
    if request is None:
        return {}
    if template == "index.html":
        async def home():
            name = target_database(datasette, request)
            names = await _read(datasette, name, data.topics) if name else []
            return {"feed_links": [{"title": f"Atom feed of topic {t}", "href": feed_path(datasette, "topic", t)} for t in names]}
        return home
    links = _links(datasette, template, database, table, view_name, request)
    return {"feed_links": links} if links else {}
