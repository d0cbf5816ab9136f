"""Errors raised while fetching and parsing upstream data.

Every error is a `FetchError`, carries the URL it concerns and renders as one clear line, so that a
crawl run can record it verbatim. `BlockedError` is kept apart because a WAF/challenge page is
reported as status ``blocked`` rather than ``failed``.
"""

from __future__ import annotations


class FetchError(Exception):
    """A resource could not be fetched or understood."""

    def __init__(self, message: str, url: str | None = None):
        self.url = url
        super().__init__(f"{message} ({url})" if url else message)


class HttpStatusError(FetchError):
    """The upstream answered with an error status after all retries."""

    def __init__(self, status: int, url: str, detail: str = ""):
        self.status = status
        super().__init__(f"HTTP {status}{': ' + detail if detail else ''}", url)


class BlockedError(FetchError):
    """A WAF or JavaScript challenge page answered instead of the resource. ``status`` and
    ``headers`` (lower-cased names) of the response, when known, let a source tell a WAF challenge
    from an upstream's own empty 202 (e.g. Cellar's "rendition being generated")."""

    def __init__(self, message: str, url: str | None = None, status: int | None = None, headers: dict | None = None):
        super().__init__(message, url)
        self.status = status
        self.headers = headers or {}


class TooLargeError(FetchError):
    """The body exceeded ``[http] max_bytes``."""


class AddressRefused(FetchError):
    """The URL's scheme or resolved address is not allowed (SSRF guard)."""


class RobotsDisallowed(FetchError):
    """robots.txt forbids the URL for our User-Agent."""


class DeadlineExceeded(FetchError):
    """A request ran past its deadline (``[http] deadline_s`` for one exchange: connect, status
    line, headers and body; ``total_deadline_s`` for a call with its retries and redirects). The
    message starts with "timed out", like a socket read timeout."""


class ParseError(FetchError):
    """The payload is malformed, truncated or lacks the expected structure."""


class ExtractionLimit(ParseError):
    """A PDF or DOCX exceeds an extraction limit (pages, characters, decompressed bytes, time or
    memory): refused as a whole, never stored empty or truncated."""


class NotReady(FetchError):
    """The upstream is still generating the resource (e.g. Cellar 202): retry on a later run."""
