"""WAF / JavaScript challenge detection: a response that is a challenge rather than the resource
(HTTP 202 with an empty body, ``x-amzn-waf-action``, ``cf-mitigated``, "Just a moment..." pages) is
reported as "blocked", never stored as a document."""

from __future__ import annotations

import re

CHALLENGE_MARKERS = (
    b"Just a moment...",
    b"cf-browser-verification",
    b"challenge-platform",
    b"Attention Required! | Cloudflare",
    b"awswaf",
    b"Please enable JavaScript and cookies to continue",
)
CHALLENGE_TITLES = (b"just a moment", b"attention required", b"security check", b"verify you are human")


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
