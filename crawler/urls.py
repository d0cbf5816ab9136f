"""URL canonicalisation and redirect unwrapping for news articles.

One article reaches us under many URLs: with campaign parameters (``utm_*``, ``fbclid``...), as an
AMP variant, with or without a trailing slash, wrapped in a Google Alerts or Google News redirect,
or with a fragment. `canonical_url` maps them to one key (the news document's ``source_id``);
`unwrap_redirect` recovers the publisher URL from known redirect wrappers; `page_canonical`
reads a page's ``<link rel=canonical>`` and accepts it only when it is safe (same site, not the
home page). Pure functions, no I/O.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urljoin, urlsplit, urlunsplit

from lxml import etree, html

# Query parameters that only track a click or a campaign; compared lower-cased.
TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "ttclid",
    "igshid", "igsh", "mc_cid", "mc_eid", "ocid", "cmpid", "cmp", "icid", "ito", "ncid", "soc_src",
    "soc_trk", "_hsenc", "_hsmi", "hsctatracking", "mkt_tok", "oly_anon_id", "oly_enc_id", "vero_id",
    "wt.mc_id", "wt_mc_id", "s_cid", "sr_share", "ref_src", "ref_url", "__twitter_impression",
    "at_medium", "at_campaign", "at_custom1", "at_custom2", "at_custom3", "at_custom4", "ns_mchannel",
    "ns_source", "ns_campaign", "ns_linkname", "ns_fee", "spm", "smid", "taid", "cid_source",
    "xtor", "_ga", "_gl", "ga_source", "ga_medium", "ga_campaign", "amp", "__cf_chl_tk",
    "guccounter", "guce_referrer", "guce_referrer_sig",
})
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "itm_", "hmb_", "trk_")
# (name, value) pairs that track only with that value (``?platform=hootsuite`` is a share button).
TRACKING_PAIRS = frozenset({("platform", "hootsuite"), ("src", "rss"), ("ref", "rss"), ("from", "rss"),
                            ("source", "rss"), ("ref", "twitter"), ("ref", "facebook"),
                            ("outputtype", "amp")})
DEFAULT_PORTS = {"http": 80, "https": 443}
# Redirect wrappers: host (or host pattern), path, the parameters that may hold the target.
GOOGLE_HOST = re.compile(r"^(?:www\.)?google(?:\.[a-z]{2,3}){1,2}$")
REDIRECTS = (
    (GOOGLE_HOST, "/url", ("url", "q")),
    ("l.facebook.com", "/l.php", ("u",)),
    ("lm.facebook.com", "/l.php", ("u",)),
    ("www.facebook.com", "/l.php", ("u",)),
    ("www.bing.com", "/news/apiclick.aspx", ("url",)),
    ("out.reddit.com", "", ("url",)),
    ("www.linkedin.com", "/redir/redirect", ("url",)),
)
_AMP_FILE = re.compile(r"\.amp(\.html?)$", re.I)
_URL_IN_BYTES = re.compile(rb"https?://[\x21-\x7e]+")


def _redirect_target(parts) -> str | None:
    host, path = (parts.hostname or "").lower(), parts.path
    for wanted_host, wanted_path, params in REDIRECTS:
        if not (wanted_host.match(host) if isinstance(wanted_host, re.Pattern) else host == wanted_host):
            continue
        if wanted_path and path != wanted_path:
            continue
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        for name in params:
            target = query.get(name, "")
            if re.match(r"^https?://", target, re.I):
                return target
    return None


def _google_news_target(parts) -> str | None:
    """The publisher URL inside a Google News ``/rss/articles/<token>`` link, when the token carries it.

    Older tokens are base64 protobuf holding the URL in clear; newer ones (2024+) are opaque and
    give None (the caller keeps the link and uses the feed's title and snippet).
    """
    if (parts.hostname or "").lower() != "news.google.com":
        return None
    match = re.search(r"/(?:rss/)?articles/([A-Za-z0-9_-]+)", parts.path)
    if not match:
        return None
    token = match.group(1)
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    found = _URL_IN_BYTES.search(raw)
    if not found:
        return None
    return found.group(0).decode("ascii")


def _amp_cache_target(parts) -> str | None:
    """``www-example-com.cdn.ampproject.org/c/s/www.example.com/a`` -> ``https://www.example.com/a``."""
    if not (parts.hostname or "").lower().endswith(".cdn.ampproject.org"):
        return None
    match = re.match(r"^/[a-z](?:/(s))?/(.+)$", parts.path)
    if not match:
        return None
    scheme = "https" if match.group(1) else "http"
    return f"{scheme}://{match.group(2)}" + (f"?{parts.query}" if parts.query else "")


def unwrap_redirect(url: str) -> str:
    """The publisher URL behind Google Alerts/Search, Google News, Facebook, Bing, LinkedIn or
    AMP-cache wrappers (nested wrappers too); other URLs are returned unchanged."""
    for _ in range(5):
        parts = urlsplit(url.strip())
        target = _redirect_target(parts) or _google_news_target(parts) or _amp_cache_target(parts)
        if not target or target == url:
            return url.strip()
        url = target
    return url


def _is_tracking(name: str, value: str) -> bool:
    lowered = name.lower()
    return (lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)
            or (lowered, value.lower()) in TRACKING_PAIRS)


def _normalise_path(path: str) -> str:
    # decode unreserved characters, re-encode the rest uniformly (so %7E and ~ compare equal)
    path = quote(unquote(path), safe="/:@!$&'()*+,;=-._~")
    path = re.sub(r"/{2,}", "/", path)
    path = _AMP_FILE.sub(r"\1", path)
    if re.search(r"/amp/?$", path, re.I) and path.strip("/").lower() != "amp":
        path = re.sub(r"/amp/?$", "", path, flags=re.I)
    if len(path) > 1:
        path = path.rstrip("/")
    return path or "/"


def canonical_url(url: str) -> str:
    """The key an article is known by: redirect unwrapped, scheme and host lower-cased, default port,
    fragment, tracking parameters and AMP markers dropped, query sorted, trailing slash removed.

    >>> canonical_url("HTTPS://News.Example.org:443/a/story/amp/?utm_source=x&id=7#top")
    'https://news.example.org/a/story?id=7'
    """
    url = unwrap_redirect(url)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        return url
    port = parts.port
    host = f"[{host}]" if ":" in host else host  # an IPv6 literal keeps its brackets
    netloc = host if port in (None, DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k, v))
    return urlunsplit((scheme, netloc, _normalise_path(parts.path), urlencode(query, quote_via=quote), ""))


def site_of(host: str) -> str:
    """A rough registrable domain: the last two labels, three when the second-level label is a
    generic one (``bbc.co.uk``, ``scmp.com.hk``); an IP address is its own site (``127.0.0.1`` and
    ``10.0.0.1`` are not one site). Used to judge same-site canonical links."""
    host = host.lower().rstrip(".").strip("[]")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    labels = host.split(".")
    if len(labels) >= 3 and labels[-2] in ("co", "com", "org", "net", "gov", "ac", "edu", "gv", "or", "ne"):
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def page_canonical(content: bytes | str, page_url: str) -> str | None:
    """The page's ``<link rel=canonical>`` (canonicalised) when it is safe to adopt: http(s), on the
    same site as the page, not the site's home page unless the page itself is one, and, on the very
    same host, the same path (only query, fragment, AMP or trailing-slash variants): another path on
    the same host is another article (two outlets behind one mirror or replay origin, a syndicated copy
    beside its original); exact copies are still caught by the text hash.

    A cross-site canonical (a syndicated copy pointing at the original outlet) is not adopted: the
    copy is its own outlet's document and story grouping links the two.
    """
    href = link_canonical(content)
    if not href:
        return None
    target = urlsplit(urljoin(page_url, href))
    page = urlsplit(page_url)
    if target.scheme not in ("http", "https") or not target.hostname or not page.hostname:
        return None
    if site_of(target.hostname) != site_of(page.hostname):
        return None
    if target.path.strip("/") == "" and page.path.strip("/") != "":
        return None
    if target.hostname == page.hostname and _normalise_path(target.path) != _normalise_path(page.path):
        return None  # another article on the same host (a copy served beside its original, outlets on one mirror)
    return canonical_url(urlunsplit(target))


def link_canonical(content: bytes | str) -> str | None:
    """The raw ``href`` of the first ``<link rel=canonical>`` in an HTML page, or None."""
    if not content or not content.strip():
        return None
    try:
        root = html.fromstring(content)
    except (etree.ParserError, ValueError):
        return None
    for link in root.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        if "canonical" in rel and (link.get("href") or "").strip():
            return link.get("href").strip()
    return None
