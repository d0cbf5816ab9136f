"""Datasette plugin for `tracker serve`: pages an analyst reads.

- ``extra_template_vars``: the ranked search page (the ``search_documents`` canned query: count,
  facets, the friendly message for a search that cannot run, the repairs made); a document's row page
  as readable prose with its mentions in ``<mark>``; the analysts' order of tables (`TABLE_ORDER`)
  for the home and database pages.
- ``render_cell``: stance as a coloured badge; URLs as short links (only http and https become
  links: ``javascript:`` and ``data:`` stay text); long upstream ids shortened, the full value in
  the title.

Every piece of text is escaped (markupsafe) before markup is added.
"""

from __future__ import annotations

import asyncio
import json
import re
from urllib.parse import parse_qs, urlencode, urlsplit

from datasette import hookimpl
from datasette.database import QueryInterrupted
from datasette.utils.asgi import Request
from markupsafe import Markup

from db.frontend import (DOCUMENT_MENTIONS_SQL, DOCUMENT_PANEL_SQL, DOCUMENT_TEXT_LIMIT, FACET_COLUMNS,
                         facet_index_exists, parse_search, search_facets_sql)

SEARCH_QUERY = "search_documents"
SEARCH_TASK = "policy_tracker.search_page"  # ASGI scope key: the search page's count and facets, under way
# Analysts' order on the home and database pages; tables not named follow in name order, the
# gazetteer and bookkeeping last.
TABLE_ORDER = ("documents", "mentions", "dossiers", "events", "document_topics", "new_mentions_7d", "dossier_status",
               "bill_actions", "procedure_events", "stories", "news_stories", "document_versions", "document_links",
               "source_health", "sources", "crawl_runs", "stance_by_source_month", "entity_cooccurrence", "mentions_by_week",
               "digests")
LAST = ("entities",)  # the gazetteer: tens of thousands of rows few analysts browse
FACET_TITLES = {"source": "Source", "jurisdiction": "Jurisdiction", "doc_type": "Type", "stance": "Stance",
                "language": "Language", "year": "Year"}
STANCES = ("critical", "supportive", "neutral", "none")
URL_COLUMNS = ("url", "ref_url", "base_url", "source_url")
SOFT_WRAP_CHARS = 60
LIST_COLUMNS, LIST_SHOWN = ("entities", "topics"), 4  # JSON arrays of ids, shown as a short line


def is_http(url) -> bool:
    """True for http(s) URLs: the only ones that become links."""
    return isinstance(url, str) and url.strip().lower().startswith(("https://", "http://"))


def short_url(url: str, width: int = 48) -> str:
    """host/path shortened to about ``width`` characters, for display (the link keeps the full URL)."""
    parts = urlsplit(url.strip())
    text = (parts.netloc + parts.path.rstrip("/")) or url
    return text if len(text) <= width else text[: width // 2 - 1] + "…" + text[-(width // 2 - 1):]


def stance_badge(value) -> Markup:
    stance = value if value in STANCES else "unclassified"
    return Markup('<span class="stance stance-{}">{}</span>').format(stance, value or "unclassified")


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    if column == "stance" and (value is None or isinstance(value, str)):
        return stance_badge(value)
    if column == "source" and table != "sources" and isinstance(value, dict):
        # an expanded foreign key: the source id, linked (the source's long title made the column 350 px wide)
        return Markup('<a href="{}" title="{}">{}</a>').format(
            datasette.urls.row(database, "sources", str(value.get("value"))), value.get("label") or "", value.get("value"))
    if not isinstance(value, str):
        return None
    if column in URL_COLUMNS or column == "atom_link":
        if is_http(value):
            return Markup('<a class="short-url" href="{}" title="{}" rel="noopener noreferrer">{}</a>').format(
                value.strip(), value, short_url(value))
        return Markup('<span class="not-a-link">{}</span>').format(value)
    if column in LIST_COLUMNS and table == "documents" and value.startswith("["):
        try:
            items = [str(v) for v in json.loads(value)]
        except ValueError:
            return None
        shown = ", ".join(items[:LIST_SHOWN]) + (f" … (+{len(items) - LIST_SHOWN})" if len(items) > LIST_SHOWN else "")
        return Markup('<span class="id-list" title="{}">{}</span>').format(", ".join(items), shown)
    if column == "source_id" and len(value) > 40:
        return Markup('<span class="short-id" title="{}">{}</span>').format(value, short_url(value, 36))
    return None


# ---------------------------------------------------------------- ranked search


def _filters(request) -> dict[str, str]:
    return {c: request.args.get(c, "").strip() for c in FACET_COLUMNS}


async def search_page(datasette, database: str, request) -> dict:
    """Count, facets and messages of the ranked search (the rows come from the canned query)."""
    text = request.args.get("q", "")
    filters = _filters(request)
    base = datasette.urls.database(database) + "/" + SEARCH_QUERY
    page = {"q": text, "filters": filters, "error": None, "notes": [], "count": None, "facets": [],
            "active": [], "table_url": None}

    def link(**changes) -> str:
        params = {"q": text, **filters, **changes}
        return base + "?" + urlencode({k: v for k, v in params.items() if v})

    page["active"] = [{"column": FACET_TITLES[c], "value": v, "remove": link(**{c: ""})} for c, v in filters.items() if v]
    if not text.strip():
        return page
    try:
        query = parse_search(text)
    except ValueError as exc:
        page["error"] = str(exc)
        return page
    page["notes"] = query.notes
    db = datasette.get_database(database)
    indexed = await db.execute_fn(facet_index_exists)
    sql, params = search_facets_sql(query, filters, indexed=indexed)
    try:
        result = await db.execute(sql, params)
    except QueryInterrupted:
        page["notes"].append("counting the matches took too long: the count and facets are left out")
        return page
    counts: dict[str, dict] = {c: {} for c in FACET_COLUMNS}
    total = 0
    for row in result.rows:
        total += row["n"]
        for column in FACET_COLUMNS:
            counts[column][row[column]] = counts[column].get(row[column], 0) + row["n"]
    page["count"] = total
    for column in FACET_COLUMNS:
        values = sorted(counts[column].items(), key=lambda kv: (-kv[1], str(kv[0])))
        page["facets"].append({
            "column": column, "title": FACET_TITLES[column], "selected": filters[column],
            "options": [{"value": v if v is not None else "(none)", "count": n, "url": link(**{column: v}) if v is not None else None,
                        "selected": filters[column] == v} for v, n in values[:12]],
            "more": max(0, len(values) - 12),
        })
    if query.match is not None:
        page["table_url"] = datasette.urls.table(database, "documents") + "?" + urlencode(
            {"_search": text, "_sort_desc": "published_at", **{k: v for k, v in filters.items() if v and k != "year"}})
    return page


# ---------------------------------------------------------------- a document as prose


def _locate(text: str, m) -> tuple[int, int] | None:
    """Where a mention is in the document text: its stored offsets when they hold its words, else
    inside its sentence (offsets relative to the sentence, or its first occurrence there), else the
    first occurrence in the text."""
    words, start, end = m["text"] or "", m["start"], m["end"]
    if not words:
        return None
    if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text) and text[start:end] == words:
        return start, end
    sentence = m["sentence"] or ""
    at = text.find(sentence) if sentence else -1
    if at >= 0:
        if isinstance(start, int) and isinstance(end, int) and sentence[start:end] == words:
            return at + start, at + end
        inner = sentence.find(words)
        if inner >= 0:
            return at + inner, at + inner + len(words)
    pos = text.find(words)
    return (pos, pos + len(words)) if pos >= 0 else None


def _spans(text: str, mentions) -> list[tuple[int, int, dict]]:
    """Non-overlapping (start, end, mention) in ``text``, in order."""
    located = sorted((span[0], span[1], m) for m in mentions if (span := _locate(text, m)) is not None)
    spans: list[tuple[int, int, dict]] = []
    for start, end, m in located:
        if not spans or start >= spans[-1][1]:
            spans.append((start, end, m))
    return spans


def _soft_wrap(text: str, newline: re.Match) -> bool:
    """A line break inside a paragraph of hard-wrapped text (GPO bills: ~72 characters a line, no
    blank lines): the line before it is long and neither it nor the next is a rule of underscores."""
    line = text[text.rfind("\n", 0, newline.start()) + 1:newline.start()]
    following = text[newline.end():newline.end() + 1]
    return len(line) >= SOFT_WRAP_CHARS and not line.startswith("__") and following not in ("_", "")


def prose(text: str, mentions) -> list[Markup]:
    """The text as escaped paragraphs (blank lines, else line breaks that are not soft wraps, separate
    them), mentions in
    ``<mark class="stance-...">`` with the entity and stance in the title."""
    spans = _spans(text, mentions)
    blank_lines = re.search(r"\n\s*\n", text) is not None
    paragraphs, start = [], 0
    for match in [*(m for m in re.finditer(r"\n\s*\n" if blank_lines else r"\n", text) if blank_lines or not _soft_wrap(text, m)), None]:
        end = match.start() if match else len(text)
        if text[start:end].strip():
            paragraphs.append((start, end))
        start = match.end() if match else end
    out, i = [], 0
    for p_start, p_end in paragraphs:
        html, pos = Markup(""), p_start
        while i < len(spans) and spans[i][0] < p_end:
            s, e, m = spans[i]
            s, e = max(s, pos), min(e, p_end)
            html += Markup('{}<mark class="stance-{}" title="{}: {}">{}</mark>').format(
                text[pos:s], m["stance"] or "unclassified", m["entity"], m["stance"] or "unclassified", text[s:e])
            pos = e
            i += 1
        out.append(html + text[pos:p_end])
    return out


async def document_panel(datasette, database: str, doc_id: str) -> dict:
    db = datasette.get_database(database)
    doc = (await db.execute(DOCUMENT_PANEL_SQL, [doc_id])).first()
    if doc is None:
        return {}
    mentions = (await db.execute(DOCUMENT_MENTIONS_SQL, [doc_id])).rows
    text = doc["text"] or ""
    entities: dict[str, dict] = {}
    for m in mentions:
        entry = entities.setdefault(m["entity_id"], {"name": m["entity"], "count": 0, "url": datasette.urls.row(database, "entities", m["entity_id"])})
        entry["count"] += 1
    return {"document_panel": {
        "title": doc["title"], "source": doc["source_title"] or doc["source"], "jurisdiction": doc["jurisdiction"],
        "doc_type": doc["doc_type"], "institution": doc["institution"], "language": doc["language"],
        "published_at": (doc["published_at"] or "")[:10], "stance": stance_badge(doc["stance"]),
        "version": doc["version"], "original_url": doc["url"] if is_http(doc["url"]) else None,
        "paragraphs": prose(text, mentions), "truncated": (doc["text_length"] or 0) > DOCUMENT_TEXT_LIMIT,
        "mentions": len(mentions), "entities": sorted(entities.values(), key=lambda e: -e["count"]),
        "mentions_url": datasette.urls.table(database, "mentions") + f"?document_id={doc_id}",
    }}


# ---------------------------------------------------------------- table order


def analyst_order(tables: list) -> list:
    """Tables (dicts with a ``name``) in the analysts' order."""
    rank = {name: i for i, name in enumerate(TABLE_ORDER)}
    rank.update({name: len(TABLE_ORDER) + 1 + i for i, name in enumerate(LAST)})
    return sorted(tables, key=lambda t: (rank.get(t["name"], len(TABLE_ORDER)), t["name"]))


async def analyst_tables(datasette) -> dict[str, list[dict]]:
    """Per database, its visible tables and views in the analysts' order with title, description
    and row count (None when counting is slow)."""
    listing = {}
    for name, db in datasette.databases.items():
        if name.startswith("_"):
            continue
        hidden = set(await db.hidden_table_names())
        counts = await db.table_counts(limit=10)
        names = [t for t in await db.table_names() if t not in hidden] + await db.view_names()
        rows = []
        for table in names:
            meta = datasette.table_metadata(name, table)
            if meta.get("hidden"):
                continue
            rows.append({"name": table, "title": meta.get("title") or table, "description": meta.get("description") or "",
                         "count": counts.get(table)})
        listing[name] = analyst_order(rows)
    return listing


@hookimpl
def extra_template_vars(template, database, table, view_name, request, datasette):
    if request is None:
        return {}
    if template == "index.html":
        async def tables():
            return {"analyst_tables": await analyst_tables(datasette)}
        return tables
    if template == "query.html" and database and request.path.rstrip("/").split("/")[-1] == SEARCH_QUERY:
        async def search():
            started = request.scope.get(SEARCH_TASK)  # begun beside the ranked query (asgi_wrapper)
            return {"search_page": await (started or search_page(datasette, database, request))}
        return search
    if view_name == "row" and table == "documents" and "pks" in request.url_vars:
        async def document():
            return await document_panel(datasette, database, request.url_vars["pks"])
        return document
    return {}


@hookimpl
def asgi_wrapper(datasette):
    """The documents table's search box (HTML, in the table's default order: the box's form always
    sends ``_sort=id``) leads to the ranked search page, its filters carried over; JSON, CSV and
    another sort (``_sort_desc=published_at``) keep the table search."""

    def wrap(app):
        async def ranked_search(scope, receive, send):
            if scope["type"] == "http" and scope["method"] in ("GET", "HEAD") and scope["path"].endswith("/" + SEARCH_QUERY):
                # the count and facets run on a second SQL thread while Datasette runs the ranked query
                name = scope["path"].strip("/").split("/")[0]
                if name in datasette.databases:
                    task = asyncio.ensure_future(search_page(datasette, name, Request(scope, receive)))
                    task.add_done_callback(lambda t: t.cancelled() or t.exception())  # an error page never awaits it
                    scope = {**scope, SEARCH_TASK: task}
            if scope["type"] == "http" and scope["method"] in ("GET", "HEAD") and scope["path"].endswith("/documents"):
                args = parse_qs(scope.get("query_string", b"").decode("latin-1"))
                parts = scope["path"].strip("/").split("/")
                sorts = {v for k in ("_sort", "_sort_desc") for v in args.get(k, [])}
                if len(parts) == 2 and (args.get("_search") or [""])[0].strip() and sorts <= {"id"}:
                    target = {"q": args["_search"][0], **{c: args[c][0] for c in FACET_COLUMNS if args.get(c)}}
                    location = datasette.urls.database(parts[0]) + "/" + SEARCH_QUERY + "?" + urlencode(target)
                    await send({"type": "http.response.start", "status": 302,
                                "headers": [(b"location", location.encode("latin-1", "replace")), (b"content-type", b"text/plain")]})
                    await send({"type": "http.response.body", "body": b""})
                    return
            await app(scope, receive, send)

        return ranked_search

    return wrap
