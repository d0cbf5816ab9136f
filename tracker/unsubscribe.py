"""Signed unsubscribe links and the list headers of every digest (RFC 2369, RFC 2919, RFC 8058).

A token is ``<payload>.<mac>``: the payload is the subscriber's address (lower-cased) and the list
id, base64url; the MAC is HMAC-SHA256 over both with the secret, base64url. The secret comes from
the environment variable ``[digest] unsubscribe_secret_env`` names (default
``TRACKER_UNSUBSCRIBE_SECRET``); when it is unset, from the database (`db.optouts.stored_secret`:
32 random bytes generated on first use, in a table the web cannot read). Nothing is derived from
anything guessable. Verification compares MACs in constant time (`hmac.compare_digest`) and
refuses tokens over `MAX_TOKEN` characters before decoding them.

The link is ``<base_url>/-/unsubscribe?token=...``, answered by `tracker serve`
(`tracker.plugins.unsubscribe`): GET shows a confirmation page, POST records the opt-out.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from urllib.parse import quote, urlsplit

import sqlite_utils

from db.optouts import stored_secret
from tracker.subscriptions import DigestSettings

PATH = "/-/unsubscribe"
MAX_TOKEN = 1024
DEFAULT_SECRET_ENV = "TRACKER_UNSUBSCRIBE_SECRET"


class InvalidToken(ValueError):
    """The token is malformed, too long, or its signature does not match."""


def secret(db: sqlite_utils.Database, env_name: str = DEFAULT_SECRET_ENV) -> bytes:
    """The signing key: the environment variable's value (UTF-8) when set, else the database's."""
    value = os.environ.get(env_name, "")
    return value.encode("utf-8") if value.strip() else stored_secret(db)


def list_id(settings: DigestSettings) -> str:
    """The digest's list identifier (RFC 2919 dot-atom): ``digest.<domain>``, the domain the sender's
    address's (else the front end's host)."""
    address = settings.sender.rsplit("<", 1)[-1].rstrip(">").strip()
    domain = address.rsplit("@", 1)[1] if "@" in address else (urlsplit(settings.base_url).hostname or "localhost")
    domain = ".".join(p for p in re.sub(r"[^A-Za-z0-9.-]", "-", domain.lower()).split(".") if p) or "localhost"
    return f"policy-tracker-digest.{domain}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, email: str, list_name: str) -> bytes:
    return hmac.new(key, b"unsubscribe\x00" + email.encode("utf-8") + b"\x00" + list_name.encode("utf-8"),
                    hashlib.sha256).digest()


def make_token(key: bytes, email: str, list_name: str) -> str:
    """The signed token of ``email`` on ``list_name``."""
    email = email.lower()
    return f"{_b64((email + chr(10) + list_name).encode('utf-8'))}.{_b64(_mac(key, email, list_name))}"


def verify_token(key: bytes, token: str) -> tuple[str, str]:
    """(address, list id) of a valid token; raises `InvalidToken`."""
    if not token or len(token) > MAX_TOKEN or token.count(".") != 1:
        raise InvalidToken("malformed unsubscribe token")
    payload, mac = token.split(".")
    try:
        email, list_name = _unb64(payload).decode("utf-8").split("\n")
        given = _unb64(mac)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidToken("malformed unsubscribe token") from None
    if not hmac.compare_digest(given, _mac(key, email, list_name)):
        raise InvalidToken("the unsubscribe token's signature does not match")
    return email, list_name


def link(settings: DigestSettings, token: str) -> str:
    """The unsubscribe URL of a token."""
    return f"{settings.base_url.rstrip('/')}{PATH}?token={token}"


def headers(settings: DigestSettings, token: str) -> dict[str, str]:
    """``List-Unsubscribe`` (the https link, and a mailto: when ``unsubscribe_mailto`` is set),
    ``List-Unsubscribe-Post`` (RFC 8058 one-click) and ``List-Id``."""
    targets = [f"<{link(settings, token)}>"]
    if settings.unsubscribe_mailto:
        targets.append(f"<mailto:{settings.unsubscribe_mailto}?subject={quote('unsubscribe ' + token)}>")
    return {"List-Unsubscribe": ", ".join(targets), "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "List-Id": f"policy-tracker digest <{list_id(settings)}>"}
