"""SQL the Datasette front end (`tracker serve`) needs beyond the views: the analyst's search syntax
turned into FTS5, the covering index behind search facets, and the queries of the plugin's panels.

Search syntax (documented in docs/frontend.md), the same for the web and the CLI:
words (all must occur, porter stemming), ``"quoted phrases"``, ``prefix*``, ``OR``, ``AND``, ``NOT``
(or ``-word``) and parentheses. Operators are upper case (``and`` is a word). Anything else is
quoted, so no input reaches FTS5 as raw syntax. What cannot be searched raises ``ValueError`` with a
message for the analyst; small slips are repaired and reported in ``SearchQuery.notes`` (a dangling
operator is dropped, an unclosed quote or parenthesis is closed).

FTS5 cannot start with NOT: a query that only excludes (``NOT LOGINK``) is returned as
``SearchQuery(match=None, exclude='"LOGINK"')``; the web's ranked search runs it as "every document
except those matching" (`SEARCH_EXCLUDE_SQL`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import sqlite_utils

OPERATORS = ("AND", "OR", "NOT")
_TOKEN = re.compile(r'\s+|(?P<paren>[()])|"(?P<phrase>[^"]*)(?P<closed>"?)(?P<pstar>\*?)|(?P<word>[^\s()"]+)')


@dataclass
class SearchQuery:
    """An analyst's search as FTS5: ``match`` (None when the query only excludes), ``exclude`` (set
    only then) and ``notes`` (repairs made, to show beside the results)."""

    match: str | None
    exclude: str | None = None
    notes: list[str] = field(default_factory=list)


def _lex(text: str, notes: list[str]) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    for m in _TOKEN.finditer(text):
        if m.group("paren"):
            tokens.append((m.group("paren"), m.group("paren")))
        elif m.group("phrase") is not None:
            if not m.group("closed"):
                notes.append("closed an unbalanced quote")
            phrase = " ".join(m.group("phrase").split())
            if re.search(r"\w", phrase):
                tokens.append(("term", f'"{phrase}"' + ("*" if m.group("pstar") else "")))
        elif m.group("word"):
            word = m.group("word")
            if word in OPERATORS:
                tokens.append((word, word))
                continue
            negated = word.startswith("-") and len(word) > 1
            word = word[1:] if negated else word
            prefix = word.endswith("*")
            word = word.rstrip("*")
            if not re.search(r"\w", word):
                if m.group("word").strip("*-"):
                    notes.append(f"ignored {m.group('word')!r} (no letters or digits)")
                continue
            if negated:
                tokens.append(("NOT", "NOT"))
            tokens.append(("term", f'"{word}"' + ("*" if prefix else "")))
    return tokens


class _Parser:
    """Recursive descent over the tokens: or := and (OR and)*; and := unary ((AND)? unary)*;
    unary := NOT unary | '(' or ')' | term. Produces ("term", s) | ("and", [...]) | ("or", [...]) | ("not", n)."""

    def __init__(self, tokens: list[tuple[str, str]], notes: list[str]):
        self.tokens, self.pos, self.notes = tokens, 0, notes

    def peek(self) -> str | None:
        return self.tokens[self.pos][0] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        self.pos += 1
        return self.tokens[self.pos - 1]

    def parse(self):
        node = self.or_expr()
        while self.peek() is not None:  # only a stray ')' stops or_expr early
            self.take()
            self.notes.append("ignored an unmatched ')'")
            more = self.or_expr()
            node = _join("and", [n for n in (node, more) if n is not None])
        return node

    def or_expr(self):
        parts = [self.and_expr()]
        while self.peek() == "OR":
            self.take()
            parts.append(self.and_expr())
        if None in parts and len(parts) > 1:
            self.notes.append("ignored an OR with nothing on one side")
        parts = [p for p in parts if p is not None]
        return _join("or", parts) if parts else None

    def and_expr(self):
        parts = []
        while self.peek() not in (None, "OR", ")"):
            if self.peek() == "AND":
                self.take()
                continue
            node = self.unary()
            if node is not None:
                parts.append(node)
        return _join("and", parts) if parts else None

    def unary(self):
        kind, value = self.take()
        if kind == "NOT":
            if self.peek() in (None, "OR", ")", "AND"):
                self.notes.append("ignored a NOT with nothing after it")
                return None
            child = self.unary()
            return ("not", child) if child is not None else None
        if kind == "(":
            node = self.or_expr()
            if self.peek() == ")":
                self.take()
            else:
                self.notes.append("closed an unbalanced '('")
            return node
        if kind == ")":
            self.notes.append("ignored an unmatched ')'")
            return None
        return ("term", value)


def _join(kind: str, parts: list):
    return parts[0] if len(parts) == 1 else (kind, parts)


def _emit(node) -> str:
    """FTS5 text for a node that has something positive to match (ValueError otherwise)."""
    kind = node[0]
    if kind == "term":
        return node[1]
    if kind == "or":
        if any(_only_excludes(p) for p in node[1]):
            raise ValueError("OR NOT cannot be searched: write what to find on both sides of OR (e.g. port OR terminal NOT LOGINK)")
        return "(" + " OR ".join(_emit(p) for p in node[1]) + ")"
    if kind == "not":
        raise ValueError("a search cannot only exclude inside OR or parentheses")
    positives = [p for p in node[1] if p[0] != "not"]
    negatives = [p[1] for p in node[1] if p[0] == "not"]
    if not positives:
        raise ValueError("a search cannot only exclude inside OR or parentheses")
    text = " AND ".join(_emit(p) for p in positives)
    if negatives:
        text = f"({text}) NOT " + (_emit(negatives[0]) if len(negatives) == 1 else "(" + " OR ".join(_emit(n) for n in negatives) + ")")
    return f"({text})" if len(positives) > 1 or negatives else text


def _only_excludes(node) -> bool:
    return node[0] == "not" or (node[0] == "and" and all(p[0] == "not" for p in node[1]))


def parse_search(user_text: str) -> SearchQuery:
    """The analyst's search as FTS5 (see the module docstring); ValueError with a readable message
    when nothing can be searched."""
    notes: list[str] = []
    tree = _Parser(_lex(user_text or "", notes), notes).parse()
    if tree is None:
        if any(word in OPERATORS for word in (user_text or "").split()):
            raise ValueError(f"nothing to search for in {user_text.strip()!r}: AND, OR and NOT go between words "
                             '(to find the word itself, quote it: "and")')
        if (user_text or "").strip():
            raise ValueError(f"nothing to search for in {user_text.strip()!r}: type a word or a \"phrase\"")
        raise ValueError("type a word or a \"phrase\" to search for")
    if _only_excludes(tree):
        excluded = [tree[1]] if tree[0] == "not" else [p[1] for p in tree[1]]
        text = _emit(excluded[0]) if len(excluded) == 1 else "(" + " OR ".join(_emit(n) for n in excluded) + ")"
        return SearchQuery(None, text, notes)
    return SearchQuery(_emit(tree), None, notes)


def fts_query(user_text: str) -> str:
    """The analyst's search as one FTS5 MATCH expression; ValueError with a readable message when it
    cannot be searched, including a query that only excludes (``NOT LOGINK``: FTS5 needs something
    to match; the web runs it with `SEARCH_EXCLUDE_SQL`)."""
    query = parse_search(user_text)
    if query.match is None:
        raise ValueError(f"{user_text.strip()!r} only says what to exclude: add what to look for (e.g. port {user_text.strip()})")
    return query.match


def fts_query_or_nothing(user_text: str) -> str:
    """`fts_query`, or an FTS5 expression matching nothing (``""``) when the text cannot be searched:
    for SQL functions, where an exception would be an error page."""
    try:
        return fts_query(user_text)
    except ValueError:
        return '""'


# ---------------------------------------------------------------- the ranked search page

# Facets of the ranked search, read from an index in facet order (a few dozen bytes per document)
# instead of the documents rows (20 KB texts): one scan of the index, each entry probed against the
# matches, counts per combination of values with no sort (the GROUP BY follows the index order).
# SQLite's planner would look every match up in the documents rows, hence INDEXED BY.
FACET_INDEX = "idx_documents_search_facets"
FACET_COLUMNS = ("source", "jurisdiction", "doc_type", "stance", "language", "year")
_FACET_EXPR = {"year": "substr(d.published_at, 1, 4)"}
_FACET_INDEX_SQL = (f"CREATE INDEX {FACET_INDEX} ON documents "
                    "(source, jurisdiction, doc_type, stance, language, substr(published_at, 1, 4), canonical_id, id)")
_OLD_FACET_INDEXES = ("idx_documents_frontend_facets",)  # an earlier shape (id first): a join, then a sort
# One upstream document reached through several sources is one result: its representative (db.identities).
REPRESENTATIVE = "coalesce(d.canonical_id, d.id) = d.id"


def ensure_frontend(db: sqlite_utils.Database) -> bool:
    """Create what the front end needs that the schema does not declare (idempotent): the index of
    the search facets, recreated when its definition changed. True when it was created now (one
    read of every document)."""
    for name in _OLD_FACET_INDEXES:
        db.execute(f"drop index if exists {name}")
    row = db.execute("select sql from sqlite_master where type = 'index' and name = ?", [FACET_INDEX]).fetchone()
    if row is not None and row[0] == _FACET_INDEX_SQL:
        return False
    db.execute(f"drop index if exists {FACET_INDEX}")
    db.execute(_FACET_INDEX_SQL)
    return True


def facet_index_exists(conn) -> bool:
    return conn.execute("select 1 from sqlite_master where type = 'index' and name = ?", [FACET_INDEX]).fetchone() is not None


def search_filters(filters: dict[str, str]) -> tuple[str, dict]:
    """SQL conditions on ``d`` for the facet filters that are set (source, jurisdiction, doc_type,
    stance, language: equality; year: of publication) and their parameters."""
    clauses, params = [], {}
    for column in FACET_COLUMNS:
        value = (filters.get(column) or "").strip()
        if value:
            clauses.append(f"{_FACET_EXPR.get(column, 'd.' + column)} = :f_{column}")
            params[f"f_{column}"] = value
    return "".join(f" and {c}" for c in clauses), params


def search_facets_sql(query: SearchQuery, filters: dict[str, str], indexed: bool = True) -> tuple[str, dict]:
    """One pass giving a count per combination of facet values among the matches (the page sums
    them into per-facet counts and the total): the facets and the count of the ranked search."""
    where, params = search_filters(filters)
    hint = f" indexed by {FACET_INDEX}" if indexed else ""
    if query.match is not None:
        matches = "d.id in (select rowid from documents_fts where documents_fts match :match)"
        params["match"] = query.match
    else:
        matches = "d.id not in (select rowid from documents_fts where documents_fts match :exclude)"
        params["exclude"] = query.exclude
    keys = [_FACET_EXPR.get(c, "d." + c) for c in FACET_COLUMNS]
    columns = ", ".join(f"{k} as {c}" for k, c in zip(keys, FACET_COLUMNS))
    return (f"select {columns}, count(*) as n from documents d{hint} where {matches} and {REPRESENTATIVE}{where} "
            f"group by {', '.join(keys)}"), params


# ---------------------------------------------------------------- panels of row pages

MENTION_CONTEXT_SQL = """
    select m.id, m.text, m.sentence, m.start, m."end", m.stance, m.stance_score, m.topic, m.entity_id,
           e.name as entity, d.id as document_id, d.title, d.url, d.source, d.published_at, d.version,
           (select count(*) from document_versions v where v.document_id = d.id) as versions,
           (select count(*) from mentions o where o.document_id = d.id) as document_mentions
    from mentions m join documents d on d.id = m.document_id left join entities e on e.id = m.entity_id
    where m.id = ?"""

# The document's text, capped (the page shows at most this many characters).
DOCUMENT_TEXT_LIMIT = 200_000
DOCUMENT_PANEL_SQL = f"""
    select d.id, d.title, d.url, d.source, d.jurisdiction, d.doc_type, d.institution, d.language,
           d.published_at, d.stance, d.version, substr(d.text, 1, {DOCUMENT_TEXT_LIMIT}) as text,
           length(d.text) as text_length, s.title as source_title
    from documents d left join sources s on s.id = d.source
    where d.id = ?"""
DOCUMENT_MENTIONS_SQL = """
    select m.id, m.text, m.sentence, m.start, m."end", m.stance, m.entity_id, coalesce(e.name, m.entity_id) as entity
    from mentions m left join entities e on e.id = m.entity_id
    where m.document_id = ? order by m.start limit 2000"""
