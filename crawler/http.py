"""The one polite HTTP client every source uses.

requests + urllib3 ``Retry`` (429/5xx with exponential backoff and jitter, ``Retry-After`` honoured
up to a cap), a per-host minimum interval (raised to the host's robots.txt ``Crawl-delay``, capped
like Retry-After), robots.txt through protego for web pages, a configurable User-Agent, conditional
GET with stored validators, a maximum body size (counted after decompression, so gzip bombs stop
too), WAF/challenge detection, and two guards built into the connections (crawler/connection.py):

- deadlines (crawler/deadline.py): ``timeout_s`` bounds each socket operation, ``deadline_s`` one
  whole exchange (connect, status line, headers, body; a watchdog shuts a trickling socket down),
  ``total_deadline_s`` a call with its retries, backoff sleeps and redirects;
- the SSRF guard (crawler/addresses.py): non-http(s) URLs are refused, and so is a host that
  resolves to a loopback, private or link-local address unless ``allow_private_addresses`` is set
  or the host is listed in ``private_hosts`` (a local mirror is trusted; links found in its content
  to other private addresses are still refused). The host and port are those urllib3 connects to,
  resolved once; the connection goes to the checked address. Redirects are followed by hand so
  that every hop passes the same checks. Environment proxies are not used (``trust_env`` off): the
  check must see the real destination.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urljoin, urlsplit

import requests
from protego import Protego
from urllib3.util.retry import Retry

from crawler import addresses, deadline
from crawler.challenge import is_challenge
from crawler.extract import decode_text
from crawler.connection import GuardedAdapter
from crawler.errors import (
    BlockedError,
    DeadlineExceeded,
    FetchError,
    HttpStatusError,
    ParseError,
    RobotsDisallowed,
    TooLargeError,
)
from crawler.limits import ExtractLimits
from crawler.limits import configure as configure_extraction
from crawler.logs import source_log

log = logging.getLogger("crawler.http")

ROBOTS_TTL_S = 24 * 3600


@dataclass
class HttpSettings:
    """The ``[http]`` configuration section."""

    user_agent: str = "policy-tracker/0.1 (+https://github.com/policy-tracker; ops@example.org)"
    min_interval_s: float = 1.0
    timeout_s: float = 30.0
    max_bytes: int = 50_000_000
    allow_private_addresses: bool = False
    private_hosts: list[str] = field(default_factory=list)
    retries: int = 4
    backoff_factor: float = 1.0
    max_retry_after_s: float = 120.0
    max_redirects: int = 10
    deadline_s: float = 120.0
    total_deadline_s: float = 300.0
    extract_max_pages: int = ExtractLimits.max_pages
    extract_max_chars: int = ExtractLimits.max_chars
    extract_max_xml_bytes: int = ExtractLimits.max_xml_bytes
    extract_max_content_bytes: int = ExtractLimits.max_content_bytes
    extract_timeout_s: float = ExtractLimits.timeout_s
    extract_memory_mb: int = ExtractLimits.memory_mb

    def extraction_limits(self) -> ExtractLimits:
        """The ``extract_*`` keys as `ExtractLimits`."""
        return ExtractLimits(self.extract_max_pages, self.extract_max_chars, self.extract_max_xml_bytes,
                             self.extract_max_content_bytes, self.extract_timeout_s, self.extract_memory_mb)


class ValidatorStore(Protocol):
    """Where ETag / Last-Modified validators of earlier fetches are kept (the database)."""

    def get_validators(self, url: str) -> dict | None: ...


@dataclass
class Fetched:
    """A successful response, body fully read."""

    url: str
    status: int
    headers: dict[str, str]
    content: bytes
    not_modified: bool = False
    validators: dict = field(default_factory=dict)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def text(self) -> str:
        """The body decoded by `crawler.extract.decode_text` (declared charset, else UTF-8 with its
        BOM dropped, else cp1252, logged)."""
        text, warnings = decode_text(self.content, self.headers.get("content-type", ""))
        for warning in warnings:
            log.warning(warning, extra={"url": self.url})
        return text

    def json(self):
        """The body as JSON; a malformed or truncated body raises `ParseError`."""
        import json

        if not self.content.strip():
            raise ParseError("empty body where JSON was expected", self.url)
        try:
            return json.loads(self.text)
        except ValueError as exc:
            if self.content.lstrip()[:1] == b"<":  # an HTML error/maintenance page (or XML) instead of JSON
                raise ParseError(f"expected JSON, got {self.content_type or 'a markup page'} (error page?)", self.url) from None
            raise ParseError(f"malformed JSON: {exc}", self.url) from None


class _CappedRetry(Retry):
    """urllib3 Retry whose Retry-After sleep is capped (a server asking for hours is not obeyed blindly)."""

    max_retry_after_s: float = 120.0

    def get_retry_after(self, response):
        value = super().get_retry_after(response)
        return None if value is None else min(value, self.max_retry_after_s)

    def new(self, **kw):  # keep the cap on the copies urllib3 makes at each retry
        retry = super().new(**kw)
        retry.max_retry_after_s = self.max_retry_after_s
        return retry

    def sleep(self, response=None) -> None:
        """Retry-After or backoff, never past the call's total deadline."""
        wait = self.get_retry_after(response) if response is not None and self.respect_retry_after_header else None
        wait = self.get_backoff_time() if wait is None else wait
        budget = deadline.current()
        if budget is not None:
            wait = min(wait, budget.total_remaining())
        if wait > 0:
            time.sleep(wait)


def _root_cause(exc: BaseException) -> BaseException:
    """The innermost reason of a requests/urllib3 error (``MaxRetryError.reason`` and the like)."""
    seen = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        inner = getattr(exc, "reason", None) or (exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else None)
        if not isinstance(inner, BaseException):
            break
        exc = inner
    return exc


class HttpClient:
    """A requests session with politeness, safety and change detection built in. Constructing one
    also applies its settings' ``extract_*`` limits to PDF/DOCX extraction in this process
    (crawler/limits.py: sources hand bytes to crawler.extract without settings)."""

    def __init__(
        self,
        settings: HttpSettings,
        source_id: str | None = None,
        validators: ValidatorStore | None = None,
    ):
        self.settings = settings
        self.source_id = source_id
        configure_extraction(settings.extraction_limits())
        self.validators = validators
        self.min_interval_s = settings.min_interval_s
        self.pending_validators: dict[str, dict] = {}
        self.requests_made = 0
        # Set by the source: a redirect to its upstream's hosts follows its configured base_url (a mirror
        # or a replay server recorded with the upstream's absolute Location headers).
        self.rebase: Callable[[str], str] | None = None
        self._last_request: dict[str, float] = {}
        self._host_delay: dict[str, float] = {}
        self._robots: dict[str, tuple[float, Protego | None]] = {}
        self._policy = addresses.AddressPolicy(settings.allow_private_addresses, list(settings.private_hosts))
        self._pins: dict[tuple[str, int], list[str]] = {}  # (host, port) -> the addresses checked last
        self.log = source_log("crawler.http", source_id)
        self.session = requests.Session()
        self.session.trust_env = False  # no environment proxies: the address check must see the destination
        retry = _CappedRetry(
            total=settings.retries,
            connect=settings.retries,
            read=1,
            status=settings.retries,
            backoff_factor=settings.backoff_factor,
            backoff_jitter=settings.backoff_factor / 2,
            status_forcelist=(429, 500, 502, 503, 504),
            allowed_methods=frozenset({"GET", "HEAD", "POST"}),
            respect_retry_after_header=True,
            raise_on_status=False,
            redirect=False,
        )
        retry.max_retry_after_s = settings.max_retry_after_s
        adapter = GuardedAdapter(self._pinned_addresses, max_retries=retry)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = settings.user_agent

    # -- public API -------------------------------------------------------------------------
    def get(
        self,
        url: str,
        params: dict | None = None,
        headers: dict | None = None,
        *,
        conditional: bool = False,
        robots: bool = False,
        accept: str | None = None,
        deadline_s: float | None = None,
    ) -> Fetched:
        """GET ``url`` politely; see the module docstring for what is checked. ``deadline_s``
        overrides ``[http] deadline_s`` for this call (the total grows to match if smaller)."""
        with self._budget(deadline_s):
            return self._get(url, params, headers, conditional, robots, accept)

    def post(self, url: str, json=None, data=None, headers: dict | None = None, *, deadline_s: float | None = None) -> Fetched:
        """POST (used for read-only search and SPARQL endpoints)."""
        with self._budget(deadline_s):
            return self._request("POST", url, headers=dict(headers or {}), json=json, data=data)

    # -- internals ----------------------------------------------------------------------------
    def _budget(self, deadline_s: float | None):
        if deadline_s is None:
            return deadline.budget_scope(self.settings.deadline_s, self.settings.total_deadline_s)
        if not (math.isfinite(deadline_s) and deadline_s > 0):
            raise ValueError(f"deadline_s must be a positive number of seconds, got {deadline_s!r}")
        return deadline.budget_scope(deadline_s, max(deadline_s, self.settings.total_deadline_s))

    def _get(self, url: str, params: dict | None, headers: dict | None, conditional: bool, robots: bool,
             accept: str | None) -> Fetched:
        if params:
            url = requests.Request("GET", url, params=params).prepare().url
        headers = dict(headers or {})
        if accept:
            headers["Accept"] = accept
        if robots:
            self._check_address(url)  # a refused address is reported as such, not as "robots.txt unreachable"
            self._check_robots(url)
        if conditional and self.validators is not None:
            stored = self.validators.get_validators(url) or {}
            if stored.get("etag"):
                headers["If-None-Match"] = stored["etag"]
            if stored.get("last_modified"):
                headers["If-Modified-Since"] = stored["last_modified"]
        fetched = self._request("GET", url, headers=headers)
        if conditional and not fetched.not_modified and fetched.validators:
            self.pending_validators[url] = fetched.validators
        return fetched

    def _request(self, method: str, url: str, headers: dict, **body) -> Fetched:
        budget = deadline.current()
        for _ in range(self.settings.max_redirects + 1):
            self._check_address(url, method)
            self._wait_for_host(url)
            self.requests_made += 1
            try:
                response = self.session.request(
                    method,
                    url,
                    headers=headers,
                    timeout=max(0.001, min(self.settings.timeout_s, budget.total_remaining())),
                    allow_redirects=False,
                    stream=True,
                    **body,
                )
            except FetchError as exc:  # refused address or deadline, raised inside the connection
                if exc.url is None:
                    raise type(exc)(str(exc), url) from None
                raise
            except requests.exceptions.RequestException as exc:
                if budget.expired():
                    raise DeadlineExceeded(budget.message(), url) from None
                raise self._connection_error(exc, url) from None
            if budget.expired():  # the watchdog cut the headers short: what was parsed is not the response
                response.close()
                raise DeadlineExceeded(budget.message(), url)
            if response.is_redirect and response.headers.get("location"):
                response.close()
                url = urljoin(url, response.headers["location"])
                url = self.rebase(url) if self.rebase else url
                if response.status_code in (301, 302, 303):
                    method, body = "GET", {}
                continue
            return self._finish(response, url)
        raise FetchError(f"more than {self.settings.max_redirects} redirects", url)

    def _connection_error(self, exc: requests.exceptions.RequestException, url: str) -> FetchError:
        """One clear line for a transport failure that urllib3 gave up on."""
        if isinstance(exc, requests.exceptions.RetryError):
            return FetchError(f"gave up after retries: {exc}", url)
        if isinstance(exc, requests.exceptions.Timeout) or "timeout" in type(_root_cause(exc)).__name__.lower():
            return FetchError(f"timed out after {self.settings.timeout_s:g} s", url)  # a read timeout after retries
        return FetchError(f"connection failed: {type(exc).__name__}", url)

    def _finish(self, response: requests.Response, url: str) -> Fetched:
        headers = {k.lower(): v for k, v in response.headers.items()}
        if response.status_code == 304:
            response.close()
            return Fetched(url, 304, headers, b"", not_modified=True)
        content = self._read_body(response, url)
        if is_challenge(response.status_code, headers, content):
            raise BlockedError(f"challenge page (HTTP {response.status_code})", url, response.status_code, headers)
        if response.status_code >= 400:
            detail = content[:200].decode("utf-8", "replace").strip().replace("\n", " ")
            raise HttpStatusError(response.status_code, url, detail)
        validators = {k: headers[h] for k, h in (("etag", "etag"), ("last_modified", "last-modified")) if h in headers}
        return Fetched(url, response.status_code, headers, content, validators=validators)

    def _read_body(self, response: requests.Response, url: str) -> bytes:
        limit = self.settings.max_bytes
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit and "gzip" not in response.headers.get("content-encoding", ""):
            response.close()
            raise TooLargeError(f"body of {int(declared)} bytes exceeds max_bytes={limit}", url)
        chunks, size = [], 0
        budget = deadline.current()
        try:
            for chunk in response.iter_content(65536):
                if budget.expired():
                    raise DeadlineExceeded(budget.message(), url)
                size += len(chunk)
                if size > limit:
                    raise TooLargeError(f"body exceeds max_bytes={limit}", url)
                chunks.append(chunk)
        except requests.exceptions.RequestException as exc:
            if budget.expired():
                raise DeadlineExceeded(budget.message(), url) from None
            raise FetchError(f"body incomplete: {type(exc).__name__}", url) from None
        finally:
            response.close()
        if budget.expired():  # a body cut short by the watchdog can end like a complete one
            raise DeadlineExceeded(budget.message(), url)
        return b"".join(chunks)

    def _check_address(self, url: str, method: str = "GET") -> None:
        """Refuse the URL unless its connection target passes the SSRF policy, and pin the checked
        addresses for the connection (one resolution per hop)."""
        where = addresses.target(url, method)
        try:
            self._pins[where.key] = addresses.resolve(where.host, where.port, self._policy, url)
        except OSError as exc:  # socket.gaierror
            raise FetchError(f"cannot resolve host: {exc}", url) from None

    def _pinned_addresses(self, host: str, port: int) -> list[str]:
        """What a new connection to ``host:port`` may use: the addresses checked for this hop, else
        (a host the pre-check did not see) a fresh resolution, checked the same way."""
        pinned = self._pins.get((host.lower(), port))
        return pinned if pinned is not None else addresses.resolve(host, port, self._policy)

    def _wait_for_host(self, url: str) -> None:
        host = urlsplit(url).netloc
        interval = max(self.min_interval_s, self._host_delay.get(host, 0.0))
        last = self._last_request.get(host)
        if last is not None:
            delay = last + interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        self._last_request[host] = time.monotonic()

    def _check_robots(self, url: str) -> None:
        parts = urlsplit(url)
        host = f"{parts.scheme}://{parts.netloc}"
        cached = self._robots.get(host)
        if cached is None or time.monotonic() - cached[0] > ROBOTS_TTL_S:
            cached = (time.monotonic(), self._fetch_robots(host))
            self._robots[host] = cached
        rules = cached[1]
        if rules is None:
            raise RobotsDisallowed("robots.txt unreachable or failing (RFC 9309: treat as disallow all)", url)
        agent = self.settings.user_agent
        if not rules.can_fetch(url, agent):
            raise RobotsDisallowed("disallowed by robots.txt", url)
        delay = rules.crawl_delay(agent)
        if delay:
            self._host_delay[parts.netloc] = min(float(delay), self.settings.max_retry_after_s)

    def _fetch_robots(self, host: str) -> Protego | None:
        try:
            robots = self._request("GET", host + "/robots.txt", headers={})
        except HttpStatusError as exc:
            return Protego.parse("") if 400 <= exc.status < 500 else None
        except BlockedError:
            raise  # a WAF challenge on robots.txt blocks the host: report "blocked", not "disallowed"
        except FetchError:
            return None
        return Protego.parse(robots.text)
