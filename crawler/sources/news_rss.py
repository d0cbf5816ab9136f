"""news-rss: configured RSS 2.0 / Atom feeds of news outlets, each entry's article fetched and extracted.

Feeds: ``[sources.news-rss] feeds = [URL, ...]`` replaces the packaged list; the packaged list is
``[[sources.news-rss.feed]]`` tables (``url``, ``name``, ``category``, ``enabled``) in
``tracker/defaults.toml``; ``extra_feeds = [URL, ...]`` adds to whichever list is in force and
``disabled_feeds = [URL or name, ...]`` switches feeds off. ``base_url`` is empty: feeds are
absolute URLs (a feed given as a path is resolved against ``base_url`` when one is set).

Each feed is polled with a conditional GET (a 304 costs nothing and yields no entries) and parsed
with feedparser from the fetched bytes (feedparser never fetches). A feed that fails (HTTP error,
challenge page, not a feed) is an item error: the run becomes ``partial`` and the other feeds
still run. Entry links wrapped by Google Alerts (``google.com/url?url=``) or Google News are
unwrapped; titles lose their ``<b>`` highlighting; the entry summary is the snippet kept when the
article cannot be read (see `crawler.articles`). The same article in two feeds is fetched once.
No watermark is kept (feeds are short and re-read whole; stored and judged URLs are skipped);
``--since`` drops entries published earlier.
"""

from __future__ import annotations

import calendar
import html as html_lib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import urljoin, urlsplit

import feedparser

from crawler.articles import Lead, collect
from crawler.base import Item, Option, Source
from crawler.errors import FetchError, ParseError
from crawler.extract import looks_like_html, tidy
from crawler.records import DocumentRecord
from crawler.urls import canonical_url, unwrap_redirect

ACCEPT_FEED = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
# feedparser sets ``bozo`` for these on well-formed feeds: no Content-Type is passed to it (it gets bytes,
# not a response), and a declared encoding it had to override still parsed. Not malformed feeds.
BENIGN_BOZO = (feedparser.NonXMLContentType, feedparser.CharacterEncodingOverride)


@dataclass
class Feed:
    url: str
    name: str | None = None
    category: str | None = None


def configured_feeds(options: dict) -> list[Feed]:
    """The feeds in force: ``feeds`` (URLs) or the packaged ``feed`` tables, plus ``extra_feeds``,
    minus ``disabled_feeds`` and tables with ``enabled = false``; duplicates removed."""
    def urls(key: str) -> list[str]:
        value = options.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise ValueError(f"sources.news-rss.{key}: expected a list of feed URLs, got {value!r}")
        return value

    if "feeds" in options:
        feeds = [Feed(url) for url in urls("feeds")]
    else:
        tables = options.get("feed", [])
        if not isinstance(tables, list) or not all(isinstance(t, dict) and isinstance(t.get("url"), str) for t in tables):
            raise ValueError("sources.news-rss.feed: expected [[sources.news-rss.feed]] tables with a url")
        feeds = [Feed(t["url"], t.get("name"), t.get("category")) for t in tables if t.get("enabled", True) is not False]
    feeds += [Feed(url) for url in urls("extra_feeds")]
    disabled = options.get("disabled_feeds", [])
    if not isinstance(disabled, list) or not all(isinstance(d, str) for d in disabled):
        raise ValueError(f"sources.news-rss.disabled_feeds: expected a list of feed URLs or names, got {disabled!r}")
    off = {d.casefold() for d in disabled}
    chosen: dict[str, Feed] = {}
    for feed in feeds:
        if feed.url.casefold() not in off and (feed.name or "").casefold() not in off:
            chosen.setdefault(feed.url, feed)
    return list(chosen.values())


def _plain(value: str | None) -> str:
    """Feed text without markup (Google Alerts titles carry ``<b>``) and entities."""
    return tidy(html_lib.unescape(re.sub(r"<[^>]+>", " ", value or "")))


def _when(parsed) -> str | None:
    if not parsed:
        return None
    return datetime.fromtimestamp(calendar.timegm(parsed), tz=timezone.utc).isoformat()


def _entry_link(entry, feed_url: str) -> str | None:
    link = entry.get("link")
    if not link:
        for candidate in entry.get("links", []):
            if candidate.get("href") and candidate.get("rel", "alternate") == "alternate":
                link = candidate["href"]
                break
    if not link and str(entry.get("id", "")).startswith(("http://", "https://")):
        link = entry["id"]
    return urljoin(feed_url, link.strip()) if link else None


def parse_feed(content: bytes, url: str) -> tuple[dict, list[Lead]]:
    """(feed metadata, announced articles) of an RSS/Atom body; a body that is no feed raises `ParseError`."""
    if not content.strip():
        raise ParseError("empty feed body", url)
    parsed = feedparser.parse(content, response_headers={"content-location": url})
    if not parsed.get("version") and not parsed.entries:
        reason = "an HTML page" if looks_like_html(content) else str(parsed.get("bozo_exception") or "unknown format")
        raise ParseError(f"not an RSS/Atom feed ({reason})", url)
    channel = parsed.feed
    feed_title = _plain(channel.get("title")) or urlsplit(url).hostname
    language = (channel.get("language") or "").split("-")[0].lower() or None
    bozo = bool(parsed.get("bozo")) and not isinstance(parsed.get("bozo_exception"), BENIGN_BOZO)
    meta = {"title": feed_title, "version": parsed.get("version"), "bozo": bozo}
    leads = []
    for entry in parsed.entries:
        link = _entry_link(entry, url)
        if not link or not link.startswith(("http://", "https://")):
            continue
        wrapped = unwrap_redirect(link) != link
        source = entry.get("source") or {}
        summary = entry.get("summary") or (entry.get("content") or [{}])[0].get("value", "")
        leads.append(Lead(
            url=link,
            title=_plain(entry.get("title")),
            snippet=_plain(summary),
            published_at=_when(entry.get("published_parsed") or entry.get("updated_parsed")),
            outlet=_plain(source.get("title")) or (None if wrapped else feed_title),
            language=language,
            author=_plain(entry.get("author")) or None,
            metadata={
                "feed": url, "feed_title": feed_title, "entry_id": entry.get("id"),
                "categories": [t.get("term") for t in entry.get("tags", []) if t.get("term")],
            },
        ))
    if meta["bozo"] and not leads:  # lenient parsing is for feeds with a slip, not for broken ones
        raise ParseError(f"malformed feed without any usable entry ({parsed.get('bozo_exception')})", url)
    return meta, leads


class NewsRss(Source):
    """Articles announced by the configured news feeds, with their extracted main text."""

    id = "news-rss"
    title = "News outlets (RSS/Atom feeds)"
    jurisdiction = "INT"
    institution = None
    kind = "feed"
    default_base_url = ""
    default_interval = "2h"
    parser_version = "1"
    options = {
        "feeds": Option(None, "feed URLs replacing the packaged list", kind=list, item=str),
        "feed": Option([], "the packaged [[sources.news-rss.feed]] tables (url, name, category, enabled)", item=dict),
        "extra_feeds": Option([], "feed URLs added to the list in force", item=str),
        "disabled_feeds": Option([], "feed URLs or names switched off", item=str),
    }

    def _poll(self, feed: Feed) -> list[Lead]:
        url = self.resolve(feed.url.strip())  # a path is taken relative to base_url (mirrors, tests)
        if not url.startswith(("http://", "https://")):
            raise ParseError("feed URL is neither http(s) nor a path under a configured base_url", feed.url)
        response = self.ctx.client.get(url, conditional=not self.ctx.full, accept=ACCEPT_FEED)
        if response.not_modified:
            self.ctx.log and self.ctx.log.info("feed not modified: %s", feed.url)
            return []
        meta, leads = parse_feed(response.content, response.url)
        if meta["bozo"]:
            self.ctx.log and self.ctx.log.warning("feed is not well-formed, parsed leniently: %s", feed.url)
        for lead in leads:
            lead.metadata["feed_category"] = feed.category
            if feed.name and lead.outlet == meta["title"]:
                lead.outlet = feed.name
        return leads

    def discover(self) -> Iterator[Item]:
        since = self.ctx.since[:10] if self.ctx.since else None
        seen: set[str] = set()
        for feed in configured_feeds({k: v for k, v in self.opts.items() if v is not None}):
            try:
                leads = self._poll(feed)
            except FetchError as exc:  # one broken feed must not stop the others
                self.ctx.item_error(Item(key=feed.url, url=feed.url), exc)
                continue
            for lead in leads:
                key = canonical_url(lead.url)
                if key in seen or (since and lead.published_at and lead.published_at[:10] < since):
                    continue
                seen.add(key)
                yield Item(key=key, url=lead.url, data={"lead": lead})

    def fetch(self, item: Item) -> Iterator[DocumentRecord]:
        yield from collect(self.ctx, item.data["lead"])


SOURCE = NewsRss
