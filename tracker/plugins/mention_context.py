"""Datasette plugin for `tracker serve`: mentions shown in context, safely, on a read-only site.

- ``render_cell``: a mention's sentence is shown with the entity wrapped in ``<mark>`` (table, row and
  canned-query pages); FTS snippets (``⟦``...``⟧`` markers from the ``search_documents`` query) become
  ``<mark>``; ``mention_id`` / ``document_id`` columns of canned queries link to their row pages.
  Every piece of text is HTML-escaped before the markup is added, so a crafted title or sentence
  (``<script>``...) is shown as text, never run.
- ``prepare_connection``: SQL functions ``fts_match(text)`` / ``fts_exclude(text)`` (the analyst's
  search as FTS5, see db.frontend.parse_search: never a syntax error) used by the search query, and
  ``escape_fts`` (the table search box) with the same syntax; memory-mapped reads.
- ``extra_template_vars``: on a mention's row page, the context panel of ``templates/datasette/row.html``
  (document title, highlighted sentence, link to the original, to the document's versions and to the
  document's other mentions). Links to the original are only made for http(s) URLs.

Registered by `tracker.serve.build_datasette` (in-process plugin registration, like ``--plugins-dir``).
"""

from __future__ import annotations

import os
import re

from datasette import hookimpl
from datasette.utils import tilde_encode, urlsafe_components
from markupsafe import Markup, escape

from db.frontend import MENTION_CONTEXT_SQL, fts_query_or_nothing, parse_search
from tracker.plugins.reading import is_http

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
    """An FTS snippet with ``⟦match⟧`` markers, escaped, the matches wrapped in ``<mark>``; rules of
    underscores (GPO bill headers) shortened to a dash."""
    escaped = str(escape(re.sub(r"_{4,}", " — ", snippet)))
    return Markup(escaped.replace(SNIPPET_OPEN, "<mark>").replace(SNIPPET_CLOSE, "</mark>"))


def _keys(row) -> set[str]:
    try:
        return set(row.keys())
    except AttributeError:
        return set()


def _plain(value):
    """A cell value, unwrapping Datasette's expanded foreign keys ({"value", "label"})."""
    return value.get("value") if isinstance(value, dict) else value


def _match(text: str | None) -> str:
    """FTS5 for the positive part of a search ('""' matches nothing: blank, unsearchable or only NOT)."""
    try:
        return parse_search(text or "").match or '""'
    except ValueError:
        return '""'


def _exclude(text: str | None) -> str | None:
    """FTS5 of what a search that only excludes (``NOT LOGINK``) leaves out; NULL otherwise."""
    try:
        return parse_search(text or "").exclude
    except ValueError:
        return None


@hookimpl(trylast=True)
def prepare_connection(conn):
    """``fts_match(text)`` / ``fts_exclude(text)`` in SQL for the ranked search; ``escape_fts`` (the
    table search box) re-registered after Datasette's own (``trylast``) with the same syntax, so a
    blank, lone-quote or operator-only search matches nothing instead of an "fts5: syntax error"
    page. Reads go through a memory map (page cache shared with the OS, no read() per page: facets
    and searches over thousands of rows run 3-4 times faster; docs/scale.md)."""
    conn.create_function("fts_match", 1, _match, deterministic=True)
    conn.create_function("fts_exclude", 1, _exclude, deterministic=True)
    conn.create_function("escape_fts", 1, lambda text: fts_query_or_nothing(text or ""), deterministic=True)
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


@hookimpl
def extra_template_vars(template, database, table, view_name, request, datasette):
    if view_name != "row" or table != "mentions" or request is None or "pks" not in request.url_vars:
        return {}

    async def mention_context():
        pks = urlsafe_components(request.url_vars["pks"])
        if len(pks) != 1:
            return {}
        db = datasette.get_database(database)
        result = await db.execute(MENTION_CONTEXT_SQL, [pks[0]])
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
                "original_url": row["url"] if is_http(row["url"]) else None,
                "version": row["version"],
                "versions": row["versions"],
                "versions_url": datasette.urls.table(database, "document_versions") + f"?document_id={doc_id}",
                "document_mentions": row["document_mentions"],
                "mentions_url": datasette.urls.table(database, "mentions") + f"?document_id={doc_id}",
            }
        }

    return mention_context
