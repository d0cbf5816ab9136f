"""The one polite HTTP client every source uses.

requests + urllib3 ``Retry`` (429/5xx with exponential backoff and jitter, ``Retry-After`` honoured
up to a cap), a per-host minimum interval (raised to the host's robots.txt ``Crawl-delay``),
robots.txt through protego for web pages, a configurable User-Agent, conditional GET with stored
validators, timeouts, a maximum body size (counted after decompression, so gzip bombs stop too),
WAF/challenge detection, and an SSRF guard that refuses non-http(s) URLs and loopback, private or
link-local addresses unless ``allow_private_addresses`` is set (or the host is listed in
``private_hosts``: a local mirror is trusted, links found in its content to other private
addresses are still refused). Redirects are followed by hand so
that every hop passes the same checks.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urljoin, urlsplit

import requests
from protego import Protego
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from crawler.errors import (
    AddressRefused,
    BlockedError,
    FetchError,
    HttpStatusError,
    ParseError,
    RobotsDisallowed,
    TooLargeError,
)
from crawler.logs import source_log

log = logging.getLogger("crawler.http")

CHALLENGE_MARKERS = (
    b"Just a moment...",
    b"cf-browser-verification",
    b"challenge-platform",
    b"Attention Required! | Cloudflare",
    b"awswaf",
    b"Please enable JavaScript and cookies to continue",
)
CHALLENGE_TITLES = (b"just a moment", b"attention required", b"security check", b"verify you are human")
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
        """The body decoded: declared charset, else UTF-8, else cp1252 (logged)."""
        charset = None
        for part in self.headers.get("content-type", "").split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value:
                charset = value.strip("\"' ")
        for encoding in filter(None, [charset, "utf-8"]):
            try:
                return self.content.decode(encoding)
            except (UnicodeDecodeError, LookupError):
                continue
        log.warning("body is not valid UTF-8, decoded as cp1252", extra={"url": self.url})
        return self.content.decode("cp1252", errors="replace")

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

    def get_retry_after(self, response):  # noqa: ANN001 - urllib3 signature
        value = super().get_retry_after(response)
        return None if value is None else min(value, self.max_retry_after_s)

    def new(self, **kw):  # keep the cap on the copies urllib3 makes at each retry
        retry = super().new(**kw)
        retry.max_retry_after_s = self.max_retry_after_s
        return retry


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


def is_challenge(status: int, headers: dict[str, str], content: bytes) -> bool:
    """True when the response is a WAF / JavaScript challenge rather than the resource."""
    if headers.get("x-amzn-waf-action") or headers.get("cf-mitigated") == "challenge":
        return True
    if status == 202 and not content.strip():
        return True
    head = content[:20000]
    if b"<html" not in head.lower():
        return False
    if status == 200:  # ordinary pages carry challenge scripts too (Cloudflare's beacon): trust only the title
        title = re.search(rb"<title[^>]*>(.*?)</title>", head, re.I | re.S)
        return bool(title) and any(t in title.group(1).lower() for t in CHALLENGE_TITLES)
    return status in (403, 429, 503) and any(m in head for m in CHALLENGE_MARKERS)


class HttpClient:
    """A requests session with politeness, safety and change detection built in."""

    def __init__(
        self,
        settings: HttpSettings,
        source_id: str | None = None,
        validators: ValidatorStore | None = None,
    ):
        self.settings = settings
        self.source_id = source_id
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
        self.log = source_log("crawler.http", source_id)
        self.session = requests.Session()
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
        adapter = HTTPAdapter(max_retries=retry)
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
    ) -> Fetched:
        """GET ``url`` politely; see the module docstring for what is checked."""
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

    def post(self, url: str, json=None, data=None, headers: dict | None = None) -> Fetched:
        """POST (used for read-only search and SPARQL endpoints)."""
        return self._request("POST", url, headers=dict(headers or {}), json=json, data=data)

    # -- internals ----------------------------------------------------------------------------
    def _request(self, method: str, url: str, headers: dict, **body) -> Fetched:
        for _ in range(self.settings.max_redirects + 1):
            self._check_address(url)
            self._wait_for_host(url)
            self.requests_made += 1
            try:
                response = self.session.request(
                    method,
                    url,
                    headers=headers,
                    timeout=self.settings.timeout_s,
                    allow_redirects=False,
                    stream=True,
                    **body,
                )
            except requests.exceptions.RetryError as exc:
                raise FetchError(f"gave up after retries: {exc}", url) from None
            except requests.exceptions.Timeout:
                raise FetchError(f"timed out after {self.settings.timeout_s:g} s", url) from None
            except requests.exceptions.RequestException as exc:
                if "timeout" in type(_root_cause(exc)).__name__.lower():  # a read timeout after urllib3's retries
                    raise FetchError(f"timed out after {self.settings.timeout_s:g} s", url) from None
                raise FetchError(f"connection failed: {type(exc).__name__}", url) from None
            if response.is_redirect and response.headers.get("location"):
                response.close()
                url = urljoin(url, response.headers["location"])
                url = self.rebase(url) if self.rebase else url
                if response.status_code in (301, 302, 303):
                    method, body = "GET", {}
                continue
            return self._finish(response, url)
        raise FetchError(f"more than {self.settings.max_redirects} redirects", url)

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
        try:
            for chunk in response.iter_content(65536):
                size += len(chunk)
                if size > limit:
                    raise TooLargeError(f"body exceeds max_bytes={limit}", url)
                chunks.append(chunk)
        except requests.exceptions.RequestException as exc:
            raise FetchError(f"body incomplete: {type(exc).__name__}", url) from None
        finally:
            response.close()
        return b"".join(chunks)

    def _check_address(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise AddressRefused(f"refused non-http(s) URL scheme {parts.scheme!r}", url)
        if self.settings.allow_private_addresses or parts.netloc in self.settings.private_hosts \
                or parts.hostname in self.settings.private_hosts:
            return
        try:
            infos = socket.getaddrinfo(parts.hostname, parts.port or 80, proto=socket.IPPROTO_TCP)
        except socket.gaierror as exc:
            raise FetchError(f"cannot resolve host: {exc}", url) from None
        for info in infos:
            address = ipaddress.ip_address(info[4][0].split("%")[0])
            if not address.is_global or address.is_multicast:
                raise AddressRefused(
                    f"refused {address} (loopback/private/link-local); set [http] allow_private_addresses = true for local mirrors",
                    url,
                )

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
            self._host_delay[parts.netloc] = float(delay)

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
