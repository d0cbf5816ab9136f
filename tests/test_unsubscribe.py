"""Unsubscribing: signed links and list headers in every digest (real SMTP on loopback), the link
answered by `tracker serve` (Datasette's own client through the project's ASGI stack: guard
included), and later digests honouring the opt-out."""

from __future__ import annotations

import asyncio
import json
import re
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from db import writes
from db.schema import connect, ensure_schema
from tests.test_follow import configure, seed
from tracker.config import load_config
from tracker.serve import build_datasette
from tracker.unsubscribe import InvalidToken, list_id, make_token, secret, verify_token

TWO = ('[[digest.subscribers]]\nemail = "Stays@example.org"\n'
       '[[digest.subscribers]]\nemail = "leaves@example.org"\n')
MAILTO = 'unsubscribe_mailto = "unsubscribe@example.org"\nsend_empty = true'


def _send(env, now: str) -> None:
    result = env.run("digest", "send", "--now", now)
    assert result.exit_code == 0, result.output


def _messages(smtp, email: str) -> list:
    return [m for m in smtp.messages if m["To"].lower() == email.lower()]


def _header_url(message) -> str:
    """The https target of List-Unsubscribe."""
    return re.match(r"<(https://[^>]+)>", message["List-Unsubscribe"]).group(1)


def test_digest_carries_well_formed_list_headers_and_the_signed_link(env, smtp, monkeypatch):
    monkeypatch.setenv("TEST_SMTP_URL", f"smtp://127.0.0.1:{smtp.port}")
    configure(env, TWO, MAILTO)
    seed(env)
    _send(env, "2026-11-26T09:30:00Z")
    raw = smtp.envelopes[0].content.decode("ascii")
    header = re.search(r"^List-Unsubscribe: (.*)$", raw, re.MULTILINE).group(1)  # on the wire: one line, no encoded words
    assert "=?" not in header
    targets = re.fullmatch(r"<(https://[^>]+)>, <(mailto:[^>]+)>", header.strip())
    assert targets, header
    https, mailto = targets.groups()
    assert https.startswith("https://tracker.example.org/-/unsubscribe?token=")
    assert mailto.startswith("mailto:unsubscribe@example.org?subject=unsubscribe%20")
    assert re.search(r"^List-Unsubscribe-Post: List-Unsubscribe=One-Click\r?$", raw, re.MULTILINE)
    assert re.search(r"^List-Id: policy-tracker digest <policy-tracker-digest\.example\.org>\r?$", raw, re.MULTILINE)
    first_token = parse_qs(urlsplit(https).query)["token"][0]
    assert unquote(mailto.split("subject=", 1)[1]) == "unsubscribe " + first_token
    for message in smtp.messages:
        url = _header_url(message)
        token = parse_qs(urlsplit(url).query)["token"][0]
        db = env.db()
        assert verify_token(secret(db), token) == (message["To"].lower(), "policy-tracker-digest.example.org")
        assert url in message.get_body(("plain",)).get_content()  # the footer link, text and HTML
        assert url.replace("&", "&amp;") in message.get_body(("html",)).get_content()
    tokens = {parse_qs(urlsplit(_header_url(m)).query)["token"][0] for m in smtp.messages}
    assert len(tokens) == 2  # one per subscriber


def _serve(env):
    return build_datasette(env.db_path, unsubscribe_secret_env="TEST_UNSUBSCRIBE_SECRET")


def _get(ds, path: str, **kwargs):
    return asyncio.run(ds.client.get(path, **kwargs))


def _post(ds, path: str, **kwargs):
    return asyncio.run(ds.client.post(path, **kwargs))


def test_unsubscribe_through_datasette_and_later_digests_skip(env, smtp, monkeypatch):
    monkeypatch.setenv("TEST_SMTP_URL", f"smtp://127.0.0.1:{smtp.port}")
    configure(env, TWO, "send_empty = true")
    seed(env)
    _send(env, "2026-11-26T09:30:00Z")
    leaving = _messages(smtp, "leaves@example.org")[0]
    path = _header_url(leaving).removeprefix("https://tracker.example.org")
    ds = _serve(env)

    page = _get(ds, path)
    assert page.status_code == 200
    assert "leaves@example.org" in page.text and '<form method="post"' in page.text
    assert env.db()["digest_optouts"].count == 0  # GET records nothing

    done = _post(ds, path, data={"token": parse_qs(urlsplit(path).query)["token"][0]})
    assert done.status_code == 200 and "will receive no more digests" in done.text
    rows = list(env.db()["digest_optouts"].rows)
    assert [(r["email"], r["list_id"], r["method"]) for r in rows] == [
        ("leaves@example.org", "policy-tracker-digest.example.org", "form")]

    _send(env, "2026-11-27T09:30:00Z")
    assert len(_messages(smtp, "leaves@example.org")) == 1 and len(_messages(smtp, "stays@example.org")) == 2
    listed = {r["email"]: r for r in json.loads(env.run("digest", "subscribers", "--json").stdout)}
    assert listed["leaves@example.org"]["state"] == "opted out"
    assert listed["leaves@example.org"]["opted_out_at"].startswith("2026-11-26")
    assert listed["Stays@example.org"]["state"] == "active"
    assert listed["leaves@example.org"]["last_sent_at"].startswith("2026-11-26")
    text = env.run("digest", "subscribers").output
    assert "leaves@example.org: opted out 2026-11-26;" in text
    ticked = env.run("run", "--no-nlp", "--now", "2026-11-30T08:00:00Z")  # Monday after 07:00 Brussels: due
    assert ticked.exit_code == 0, ticked.output
    assert len(_messages(smtp, "leaves@example.org")) == 1 and len(_messages(smtp, "stays@example.org")) == 3


def test_one_click_post_without_form_or_cookie(env, smtp, monkeypatch):
    monkeypatch.setenv("TEST_SMTP_URL", f"smtp://127.0.0.1:{smtp.port}")
    monkeypatch.setenv("TEST_UNSUBSCRIBE_SECRET", "a long random secret from the environment")
    configure(env, TWO, 'send_empty = true\nunsubscribe_secret_env = "TEST_UNSUBSCRIBE_SECRET"')
    seed(env)
    _send(env, "2026-11-26T09:30:00Z")
    path = _header_url(_messages(smtp, "Stays@example.org")[0]).removeprefix("https://tracker.example.org")
    response = _post(_serve(env), path, content=b"List-Unsubscribe=One-Click",
                     headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 200
    assert [(r["email"], r["method"]) for r in env.db()["digest_optouts"].rows] == [("stays@example.org", "one-click")]
    assert env.db()["unsubscribe_secret"].count == 0  # the environment's secret: none generated


def test_tampered_or_foreign_tokens_are_refused(env, monkeypatch):
    configure(env, TWO)
    seed(env)
    db = env.db()
    key = secret(db)
    token = make_token(key, "leaves@example.org", "policy-tracker-digest.example.org")
    payload, mac = token.split(".")
    other = make_token(key, "stays@example.org", "policy-tracker-digest.example.org").split(".")[0]
    flipped = mac[:-2] + ("A" if mac[-2] != "A" else "B") + mac[-1]
    bad = [f"{payload}.{flipped}", f"{other}.{mac}", token + "x", "", "nodot", "a.b.c", "x" * 5000,
           make_token(b"another secret", "leaves@example.org", "policy-tracker-digest.example.org")]
    for candidate in bad:
        with pytest.raises(InvalidToken):
            verify_token(key, candidate)
    ds = _serve(env)
    for candidate in bad[:3]:
        for response in (_get(ds, f"/-/unsubscribe?token={candidate}"),
                         _post(ds, f"/-/unsubscribe?token={candidate}", content=b"List-Unsubscribe=One-Click")):
            assert response.status_code == 400 and "Invalid unsubscribe link" in response.text
    assert _get(ds, "/-/unsubscribe").status_code == 400
    assert env.db()["digest_optouts"].count == 0


def test_the_web_cannot_read_the_secret_nor_write_elsewhere(env):
    configure(env, TWO)
    seed(env)
    assert len(secret(env.db())) == 32
    ds = _serve(env)
    response = _get(ds, "/tracker.json?" + "sql=select+secret+from+unsubscribe_secret")
    assert response.status_code == 400 and "access to unsubscribe_secret.secret is prohibited" in response.text
    assert response.json()["rows"] == []
    assert _post(ds, "/tracker/documents", data={"x": "1"}).status_code == 405  # still read-only elsewhere
    assert _get(ds, "/tracker/documents.json").status_code == 200  # the authorizer spares everything else


def test_list_id_from_the_sender_domain(env):
    configure(env, TWO)
    settings = load_config(str(env.config_path)).digest
    assert list_id(settings) == "policy-tracker-digest.example.org"


def test_secret_generated_once_and_kept(tmp_path):
    db = connect(tmp_path / "t.db")
    ensure_schema(db)
    writes.register_sources(db, [{"id": "news-rss", "title": "news-rss"}])
    first = secret(db, "NO_SUCH_TRACKER_VARIABLE")
    assert first == secret(connect(tmp_path / "t.db"), "NO_SUCH_TRACKER_VARIABLE") and len(first) == 32


def test_link_works_on_a_password_protected_front_end(env, monkeypatch):
    from datasette_auth_passwords.utils import hash_password

    monkeypatch.setenv("TEST_TRACKER_HASH", hash_password("s3cret", iterations=1000))
    configure(env, TWO)
    seed(env)
    token = make_token(secret(env.db()), "leaves@example.org", "policy-tracker-digest.example.org")
    ds = build_datasette(env.db_path, password_env="TEST_TRACKER_HASH")
    assert _get(ds, "/tracker/documents").status_code == 401  # everything else still needs the password
    page = _get(ds, f"/-/unsubscribe?token={token}")
    assert page.status_code == 200 and "leaves@example.org" in page.text
    assert page.headers["x-frame-options"] == "DENY"  # inside the guard: its headers still apply
    assert _post(ds, f"/-/unsubscribe?token={token}", content=b"List-Unsubscribe=One-Click").status_code == 200
    assert [r["email"] for r in env.db()["digest_optouts"].rows] == ["leaves@example.org"]
