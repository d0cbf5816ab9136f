"""Datasette plugin for `tracker serve`: the digest's unsubscribe link, the only write the front end accepts.

``/-/unsubscribe?token=...`` (`tracker.unsubscribe` makes and checks the signed token):

- GET: a confirmation page naming the address, with a form that POSTs back to the same URL.
- POST: records the opt-out (`db.optouts.record`, method ``form``) and answers 200 with a
  confirmation. RFC 8058 one-click: a POST whose body is ``List-Unsubscribe=One-Click`` (urlencoded
  or multipart, as mail clients send it) is the same, recorded with method ``one-click``; it needs
  no form, no cookie, no CSRF token and no password (the signed token is the authority: `asgi_wrapper`).
- A missing, malformed or forged token: 400 with a page saying so. A body over `MAX_BODY` bytes: 413.

The write goes through a connection of its own (`db.schema.connect` on the served file), in a
thread; Datasette's own connections stay read-only, and `prepare_connection` installs an SQLite
authorizer on each of them that refuses any read of the signing secret's table, so analyst SQL
(``?sql=select * from unsubscribe_secret``) gets "access to unsubscribe_secret.secret is prohibited". The guard lets POSTs to this one
path through (`tracker.plugins.guard`). The secret's environment variable is the plugin setting
``secret_env`` (`tracker.serve` passes ``[digest] unsubscribe_secret_env``).
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from urllib.parse import parse_qs

from datasette import hookimpl
from datasette.utils.asgi import Request, Response
from markupsafe import escape

from db.optouts import SECRET_TABLE, record
from db.schema import connect
from tracker.unsubscribe import (
    DEFAULT_SECRET_ENV,
    PATH,
    InvalidToken,
    secret,
    verify_token,
)

PLUGIN = "policy-tracker-unsubscribe"
MAX_BODY = 8192

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{title}</title></head>
<body style="font-family:Arial,Helvetica,sans-serif;max-width:36em;margin:3em auto;padding:0 1em;color:#111827;">
<h1 style="font-size:1.4em;">{title}</h1>
{body}
</body></html>
"""


def _page(title: str, body: str, status: int = 200) -> Response:
    return Response.html(PAGE.format(title=escape(title), body=body), status=status,
                         headers={"cache-control": "no-store"})


def _deny_secret(action: int, table, column, _db, _source) -> int:
    """Refuse reading any column of the secret's table (``count(*)``, which reads none, stays allowed:
    Datasette counts every table for its listings)."""
    return sqlite3.SQLITE_DENY if action == sqlite3.SQLITE_READ and table == SECRET_TABLE and column else sqlite3.SQLITE_OK


@hookimpl
def prepare_connection(conn):
    """Datasette's connections may not read the unsubscribe secret."""
    conn.set_authorizer(_deny_secret)


def _served_path(datasette) -> Path:
    return Path(datasette.get_database().path)


def _secret_env(datasette) -> str:
    return (datasette.plugin_config(PLUGIN) or {}).get("secret_env") or DEFAULT_SECRET_ENV


def _check(path: Path, env_name: str, token: str) -> tuple[str, str]:
    db = connect(path)
    try:
        return verify_token(secret(db, env_name), token)
    finally:
        db.conn.close()


def _record(path: Path, email: str, list_name: str, method: str) -> str:
    db = connect(path)
    try:
        return record(db, email, list_name, method)
    finally:
        db.conn.close()


async def _body(request) -> bytes | None:
    """The request body, or None when it is over `MAX_BODY` bytes."""
    body = b""
    while True:
        message = await request.receive()
        body += message.get("body", b"")
        if len(body) > MAX_BODY:
            return None
        if not message.get("more_body"):
            return body


def _token_of(request, body: bytes) -> str:
    """The token from the query string, else from the form body."""
    token = request.args.get("token")
    if not token and body:
        token = (parse_qs(body.decode("utf-8", "replace")).get("token") or [""])[0]
    return token or ""


async def unsubscribe(datasette, request) -> Response:
    """GET: confirmation page; POST: record the opt-out (form or RFC 8058 one-click)."""
    body = b""
    if request.method == "POST":
        body = await _body(request)
        if body is None:
            return _page("Request too large", "<p>The request body is too large.</p>", 413)
    elif request.method not in ("GET", "HEAD"):
        return _page("Method not allowed", "<p>Use the link from your digest.</p>", 405)
    token = _token_of(request, body)
    path, env_name = _served_path(datasette), _secret_env(datasette)
    try:
        email, list_name = await asyncio.to_thread(_check, path, env_name, token)
    except InvalidToken as exc:
        return _page("Invalid unsubscribe link", f"<p>{escape(str(exc))}: this link cannot unsubscribe anyone. "
                     "Use the link from your most recent digest, unchanged.</p>", 400)
    if request.method != "POST":
        return _page("Unsubscribe from the digest", (
            f"<p>Stop sending the policy-tracker digest ({escape(list_name)}) to <b>{escape(email)}</b>?</p>"
            f'<form method="post" action="{escape(PATH)}?token={escape(token)}">'
            f'<input type="hidden" name="token" value="{escape(token)}">'
            '<button type="submit" style="font-size:1em;padding:.4em 1em;">Unsubscribe</button></form>'))
    one_click = b"List-Unsubscribe" in body and b"One-Click" in body
    since = await asyncio.to_thread(_record, path, email, list_name, "one-click" if one_click else "form")
    return _page("Unsubscribed", f"<p><b>{escape(email)}</b> will receive no more digests ({escape(list_name)}); "
                 f"unsubscribed {escape(since[:10])}.</p>")


@hookimpl(trylast=True)
def asgi_wrapper(datasette):
    """`PATH` is answered here, outside Datasette's router, its CSRF check and the password wrapper
    (datasette-auth-passwords): the signed token is the authority, and a mail client's one-click POST
    has no password, cookie or form token. ``trylast`` and registered before the guard (`tracker.serve`
    PLUGINS): outside the password wrapper, inside the guard, which still adds its headers and limits."""

    def wrap(app):
        async def answer(scope, receive, send):
            if scope["type"] == "http" and scope["path"] == PATH:
                response = await unsubscribe(datasette, Request(scope, receive))
                return await response.asgi_send(send)
            return await app(scope, receive, send)

        return answer

    return wrap
