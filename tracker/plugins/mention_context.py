"""Datasette plugin for `tracker serve`: mentions shown in context, safely, on a read-only site.

- ``render_cell``: a mention's sentence is shown with the entity wrapped in ``<mark>`` (table, row and
  canned-query pages); FTS snippets (``⟦``...``⟧`` markers from the ``search_documents`` query) become
  ``<mark>``; ``mention_id`` / ``document_id`` columns of canned queries link to their row pages.
  Every piece of text is HTML-escaped before the markup is added, so a crafted title or sentence
  (``<script>``...) is shown as text, never run.
- ``prepare_connection``: the SQL function ``fts_query(text)`` used by the search query, so words
  like ``NEAL-NET`` or stray quotes search instead of raising FTS5 syntax errors; memory-mapped reads.
- ``extra_template_vars``: on a mention's row page, the context panel of ``templates/datasette/row.html``
  (document title, highlighted sentence, link to the original, to the document's versions and to the
  document's other mentions). Links to the original are only made for http(s) URLs.
- ``asgi_wrapper``: the site is read-only: 405 for any method but GET, HEAD and OPTIONS (POST only to
  log in or out).

Registered by `tracker.serve.build_datasette` (in-process plugin registration, like ``--plugins-dir``).
"""

from __future__ import annotations

import os

from datasette import hookimpl
from datasette.utils import escape_fts, tilde_encode, urlsafe_components
from markupsafe import Markup, escape

from db.reads import fts_query

SNIPPET_OPEN, SNIPPET_CLOSE = "⟦", "⟧"
# Memory-mapped reads per connection; $TRACKER_MMAP_MB overrides (0 turns them off). SQLite caps the
# size at its compile-time maximum (2 GB by default).
MMAP_BYTES = int(float(os.environ.get("TRACKER_MMAP_MB", "256")) * 2**20)


def find_span(sentence: str, text: str, start: int | None = None, end: int | None = None) -> tuple[int, int] | None:
    """Where ``text`` is in ``sentence``: the given offsets if they fit, else the first case-insensitive match."""
    if not sentence or not text:
        return None
    if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(sentence) and sentence[start:end] == text:
        return start, end
    pos = sentence.find(text)
    if pos < 0:
        folded_sentence, folded_text = sentence.casefold(), text.casefold()
        same_lengths = len(folded_sentence) == len(sentence) and len(folded_text) == len(text)
        pos = folded_sentence.find(folded_text) if same_lengths else -1
    return (pos, pos + len(text)) if pos >= 0 else None


def highlight(sentence: str | None, text: str | None, start: int | None = None, end: int | None = None) -> Markup:
    """The sentence, escaped, with the mention wrapped in ``<mark>``."""
    sentence = sentence or ""
    span = find_span(sentence, text or "", start, end)
    if span is None:
        return Markup(escape(sentence))
    a, b = span
    return Markup("{}<mark>{}</mark>{}").format(sentence[:a], sentence[a:b], sentence[b:])


def snippet_markup(snippet: str) -> Markup:
    """An FTS snippet with ``⟦match⟧`` markers, escaped, the matches wrapped in ``<mark>``."""
    escaped = str(escape(snippet))
    return Markup(escaped.replace(SNIPPET_OPEN, "<mark>").replace(SNIPPET_CLOSE, "</mark>"))


def _keys(row) -> set[str]:
    try:
        return set(row.keys())
    except AttributeError:
        return set()


def _plain(value):
    """A cell value, unwrapping Datasette's expanded foreign keys ({"value", "label"})."""
    return value.get("value") if isinstance(value, dict) else value


@hookimpl(trylast=True)
def prepare_connection(conn):
    """``fts_query(text)`` in SQL: analyst input made into a safe FTS5 query (see db.reads.fts_query);
    ``escape_fts`` (the table search box) never returns an empty query: Datasette's own made a blank
    or lone-quote search (``?_search=%22``) an "fts5: syntax error" page, it now matches nothing
    (``trylast``: registered after Datasette's). Reads go through a memory map (page cache shared with
    the OS, no read() per page: facets and searches over thousands of rows run 3-4 times faster;
    docs/scale.md)."""
    conn.create_function("fts_query", 1, lambda text: fts_query(text or "") or '""', deterministic=True)
    conn.create_function("escape_fts", 1, lambda text: escape_fts(text or "") or '""', deterministic=True)
    conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    if not isinstance(value, str) and column not in ("mention_id", "document_id"):
        return None
    keys = _keys(row)
    if column == "sentence" and table == "mentions":
        if "text" not in keys:
            return None
        offsets = [_plain(row[k]) if k in keys else None for k in ("start", "end")]
        return highlight(value, _plain(row["text"]), *offsets)
    if table is not None:
        return None
    # canned queries and arbitrary SQL
    if column == "sentence" and "mention" in keys:
        return highlight(value, row["mention"])
    if column == "snippet" and SNIPPET_OPEN in value:
        return snippet_markup(value)
    if column == "mention_id" and isinstance(value, str) and value:
        return Markup('<a href="{}">{}</a>').format(datasette.urls.row(database, "mentions", tilde_encode(value)), value)
    if column == "document_id" and isinstance(value, int):
        return Markup('<a href="{}">{}</a>').format(datasette.urls.row(database, "documents", str(value)), value)
    return None


def _is_http(url: str | None) -> bool:
    return bool(url) and url.lower().startswith(("https://", "http://"))


@hookimpl
def extra_template_vars(template, database, table, view_name, request, datasette):
    if view_name != "row" or table != "mentions" or request is None or "pks" not in request.url_vars:
        return {}

    async def mention_context():
        pks = urlsafe_components(request.url_vars["pks"])
        if len(pks) != 1:
            return {}
        db = datasette.get_database(database)
        result = await db.execute(
            """select m.id, m.text, m.sentence, m.start, m."end", m.stance, m.stance_score, m.topic, m.entity_id,
                      e.name as entity, d.id as document_id, d.title, d.url, d.source, d.published_at, d.version,
                      (select count(*) from document_versions v where v.document_id = d.id) as versions,
                      (select count(*) from mentions o where o.document_id = d.id) as document_mentions
               from mentions m join documents d on d.id = m.document_id left join entities e on e.id = m.entity_id
               where m.id = ?""",
            [pks[0]],
        )
        row = result.first()
        if row is None:
            return {}
        doc_id = row["document_id"]
        return {
            "mention_context": {
                "sentence": highlight(row["sentence"], row["text"], row["start"], row["end"]),
                "entity": row["entity"] or row["entity_id"],
                "entity_url": datasette.urls.row(database, "entities", tilde_encode(row["entity_id"])) if row["entity"] else None,
                "stance": row["stance"] or "unclassified",
                "stance_score": row["stance_score"],
                "topic": row["topic"],
                "title": row["title"],
                "source": row["source"],
                "published_at": row["published_at"],
                "document_url": datasette.urls.row(database, "documents", str(doc_id)),
                "original_url": row["url"] if _is_http(row["url"]) else None,
                "version": row["version"],
                "versions": row["versions"],
                "versions_url": datasette.urls.table(database, "document_versions") + f"?document_id={doc_id}",
                "document_mentions": row["document_mentions"],
                "mentions_url": datasette.urls.table(database, "mentions") + f"?document_id={doc_id}",
            }
        }

    return mention_context


READ_ONLY_POST_PATHS = ("/-/login", "/-/logout")


@hookimpl
def asgi_wrapper(datasette):
    """Read-only web: only GET, HEAD and OPTIONS, plus POST to log in or out (405 otherwise)."""

    def wrap(app):
        async def read_only(scope, receive, send):
            if scope["type"] == "http" and scope["method"] not in ("GET", "HEAD", "OPTIONS") and not (
                scope["method"] == "POST" and scope["path"].endswith(READ_ONLY_POST_PATHS)
            ):
                await send({"type": "http.response.start", "status": 405,
                            "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"allow", b"GET, HEAD")]})
                await send({"type": "http.response.body", "body": b"405 Method Not Allowed: this Datasette is read-only\n"})
                return
            await app(scope, receive, send)

        return read_only

    return wrap
