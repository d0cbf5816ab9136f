"""The weekly digest end to end: content from a real database, delivered to a real SMTP server on loopback.

The server is aiosmtpd on 127.0.0.1 (a free port); what it receives is parsed with the email package
and checked: both parts, grouping, links, escaping, Message-ID, subject; nothing is delivered twice;
a refusing or unreachable server leaves nothing recorded and the next send delivers.
"""

from __future__ import annotations

import datetime as dt
import ssl
import zlib
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from db import clock, writes
from db.schema import connect, ensure_schema
from tests.smtpserver import Inbox, free_port
from tracker.config import ConfigError, load_config
from tracker.chart import stance_chart_png
from tracker.digest import build_digest
from tracker.subscriptions import Subscriber, parse_schedule
from tracker.smtp import MailError, parse_smtp_url

SCRIPT_TITLE = "Ports & <script>alert('x')</script> data"


def make_config(env, smtp_port: int | None, extra_digest: str = "", subscribers: str | None = None):
    if subscribers is None:
        subscribers = (
            '[[digest.subscribers]]\nemail = "analyst@example.org"\ntopics = ["logink"]\n'
            '[[digest.subscribers]]\nemail = "critic@example.org"\ntopics = ["logink"]\nmin_stance = "critical"\n'
            'sources = ["federal-register"]\n'
        )
    env.configure({}, extra=(
        '[topics.logink]\nentities = ["platform:logink"]\nterms = ["LOGINK"]\n'
        '[topics.cranes]\nentities = ["org:zpmc"]\nterms = ["ZPMC"]\n'
        '[digest]\nschedule = "mon 07:00"\ntimezone = "Europe/Brussels"\nfrom = "Tracker <tracker@example.org>"\n'
        'smtp_url_env = "TEST_SMTP_URL"\nbase_url = "https://tracker.example.org/"\n' + extra_digest + "\n" + subscribers
    ))
    return load_config(str(env.config_path))


def add_document(db, source: str, source_id: str, title: str, mentions: list[dict], jurisdiction: str = "US",
                 institution: str | None = "Office of the U.S. Trade Representative", published: str = "2026-11-20",
                 doc_stance: str | None = None) -> int:
    text = " ".join(m["sentence"] for m in mentions)
    _, doc_id = writes.upsert_document(db, {
        "source": source, "source_id": source_id, "url": f"https://upstream.example.gov/{source_id}", "title": title,
        "text": text, "doc_type": "notice", "jurisdiction": jurisdiction, "institution": institution,
        "published_at": published, "fetched_at": clock.now_iso(), "content_hash": f"h-{source_id}-{len(text)}",
    })
    annotation = {
        "mentions": [{"entity": m.get("entity", "platform:logink"), "topic": m.get("topic", "logink"),
                      "text": m.get("text", "LOGINK"), "sentence": m["sentence"], "start": None, "end": None,
                      "stance": m["stance"], "stance_score": m.get("score", 0.9)} for m in mentions],
        "topics": [{"topic": "logink", "stance": doc_stance or mentions[0]["stance"], "score": 0.8, "mentions": len(mentions)}],
    }
    writes.replace_annotations(db, doc_id, annotation, f"h-{source_id}-{len(text)}", "test-model", 1)
    return doc_id


def seed(env):
    db = connect(env.db_path)
    ensure_schema(db)
    writes.register_sources(db, [{"id": s, "title": s} for s in ("federal-register", "news-rss", "ep-open-data")])
    writes.save_entities(db, [{"id": "platform:logink", "name": "LOGINK", "type": "PLATFORM"},
                              {"id": "platform:neal-net", "name": "NEAL-NET", "type": "PLATFORM"},
                              {"id": "org:zpmc", "name": "ZPMC", "type": "COMPANY"}])
    add_document(db, "federal-register", "2025-03134", SCRIPT_TITLE, [
        {"sentence": "USTR proposes action against LOGINK because it threatens port data.", "stance": "critical"},
        {"sentence": "Covered platforms such as LOGINK may not be used by U.S. ports.", "stance": "critical"},
    ])
    add_document(db, "federal-register", "2024-18770", "Port Infrastructure Development Program", [
        {"sentence": "The program notes LOGINK is a logistics platform.", "stance": "neutral"},
    ])
    add_document(db, "ep-open-data", "A10-0001-2026", "Report on maritime security", [
        {"sentence": "Parliament welcomes cooperation with NEAL-NET partners.", "stance": "supportive",
         "entity": "platform:neal-net", "text": "NEAL-NET"},
    ], jurisdiction="EU", institution="European Parliament")
    add_document(db, "news-rss", "crane-1", "Cranes story", [
        {"sentence": "ZPMC cranes are everywhere.", "stance": "neutral", "entity": "org:zpmc", "text": "ZPMC", "topic": "cranes"},
    ])
    return db


def now_after_seed() -> dt.datetime:
    return clock.now() + dt.timedelta(minutes=5)


def test_digest_content_groups_filters_and_escapes(env):
    config = make_config(env, None)
    db = seed(env)
    d = build_digest(db, config, config.digest.subscribers[0], now_after_seed())
    assert d.total == 4 and d.by_stance == {"critical": 2, "supportive": 1, "neutral": 1}
    assert d.by_jurisdiction == {"US": 3, "EU": 1}
    assert [s.name for s in d.sections] == ["logink"]  # the subscriber's topic only: cranes excluded
    entities = d.sections[0].entities
    assert [e.name for e in entities] == ["LOGINK", "NEAL-NET"]  # most mentioned first
    assert sorted(doc.title for s in entities[0].stories for doc in s.documents) == sorted([
        "Port Infrastructure Development Program", SCRIPT_TITLE])
    assert entities[0].total == 3 and entities[0].stances == {"critical": 2, "neutral": 1} and entities[0].more == 0
    assert d.subject == "LOGINK: 4 new mentions (2 critical) — 19 - 26 Nov 2026"
    # escaping: the title is escaped in HTML, the mention highlighted with <mark> around escaped text
    assert "<script>" not in d.html and "&lt;script&gt;" in d.html
    assert "<mark" in d.html and ">LOGINK</mark>" in d.html
    assert "https://tracker.example.org/tracker/mentions/" in d.html  # analyst front end link, base_url slash trimmed
    assert "https://upstream.example.gov/2025-03134" in d.html
    assert SCRIPT_TITLE in d.text and "»LOGINK«" in d.text
    # the critic only gets critical federal-register mentions
    critic = build_digest(db, config, config.digest.subscribers[1], now_after_seed())
    assert critic.total == 2 and critic.by_stance == {"critical": 2}


def test_chart_is_a_valid_png():
    weeks = [{"week": f"2026-10-{i + 1:02d}", "critical": i, "supportive": 1, "neutral": 2} for i in range(8)]
    png = stance_chart_png(weeks, width=40, height=20)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    # decode IDAT: 20 rows of 1 filter byte + 40 RGB pixels, the bottom-left bar coloured
    idat = png[png.index(b"IDAT") + 4: png.index(b"IEND") - 8]
    raw = zlib.decompress(idat)
    assert len(raw) == 20 * (1 + 40 * 3)
    assert b"\xb3\x26\x1e" in raw  # critical red present


def test_send_delivers_to_real_smtp_and_never_twice(env, smtp, monkeypatch):
    monkeypatch.setenv("TEST_SMTP_URL", f"smtp://127.0.0.1:{smtp.port}")
    make_config(env, smtp.port)
    seed(env)
    now = now_after_seed().isoformat()
    result = env.run("digest", "send", "--now", now)
    assert result.exit_code == 0, result.output
    assert len(smtp.messages) == 2
    msg = next(m for m in smtp.messages if m["To"] == "analyst@example.org")
    assert msg["Subject"] == "LOGINK: 4 new mentions (2 critical) — 19 - 26 Nov 2026"
    assert msg["Message-ID"].startswith("<") and msg["Message-ID"].endswith("@example.org>")
    assert msg["From"] == "Tracker <tracker@example.org>"
    text = msg.get_body(("plain",)).get_content()
    html_part = msg.get_body(("html",))
    html = html_part.get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html and SCRIPT_TITLE in text
    assert html.index("LOGINK") < html.index("NEAL-NET")  # grouped by entity, most mentioned first
    assert "cid:stance-chart" in html
    related = [p for p in msg.walk() if p.get_content_type() == "image/png"]
    assert related and related[0]["Content-ID"] == "<stance-chart>" and related[0].get_content()[:4] == b"\x89PNG"
    db = env.db()
    rows = list(db["digests"].rows)
    assert {r["subscriber"] for r in rows} == {"analyst@example.org", "critic@example.org"}
    assert all(r["status"] == "sent" and r["message_id"] for r in rows)
    assert db.execute("select count(*) from digest_items where subscriber = 'analyst@example.org'").fetchone()[0] == 4
    assert db.execute("select count(*) from digest_items where subscriber = 'critic@example.org'").fetchone()[0] == 2
    # a second send: nothing new, so nothing delivered (send_empty = false) and nothing recorded
    result = env.run("digest", "send", "--now", now)
    assert result.exit_code == 0 and "nothing new, skipped" in result.output
    assert len(smtp.messages) == 2
    # one new mention: only that one goes out
    add_document(db, "federal-register", "2026-00001", "New notice", [
        {"sentence": "LOGINK again under scrutiny.", "stance": "critical"}])
    env.run("digest", "send", "--to", "analyst@example.org", "--now", now_after_seed().isoformat())
    assert len(smtp.messages) == 3
    third = smtp.messages[-1]
    assert third["Subject"].startswith("LOGINK: 1 new mention (1 critical)")
    assert "again under scrutiny" in third.get_body(("plain",)).get_content()
    assert "USTR proposes action" not in third.get_body(("plain",)).get_content()


def test_reannotating_a_delivered_document_keeps_history(env, smtp, monkeypatch):
    """digest_items must not block re-annotation (the mentions of a document are replaced)."""
    monkeypatch.setenv("TEST_SMTP_URL", f"smtp://127.0.0.1:{smtp.port}")
    config = make_config(env, smtp.port)
    db = seed(env)
    from tracker.mailer import send_digests

    send_digests(db, config, now_after_seed())
    doc_id = db.execute("select id from documents where source_id = '2025-03134'").fetchone()[0]
    writes.replace_annotations(db, doc_id, {"mentions": [], "topics": []}, "other", "model-2", 1)
    assert db.execute("select count(*) from digest_items").fetchone()[0] == 6


def test_refused_then_delivered_on_next_send(env, smtp, monkeypatch):
    monkeypatch.setenv("TEST_SMTP_URL", f"smtp://127.0.0.1:{smtp.port}")
    make_config(env, smtp.port)
    seed(env)
    smtp.refuse = True
    result = env.run("digest", "send", "--now", now_after_seed().isoformat())
    assert result.exit_code == 1 and "554" in result.output
    db = env.db()
    failed = list(db["digests"].rows)
    assert [r["status"] for r in failed] == ["failed", "failed"] and "554" in failed[0]["error"]
    assert db["digest_items"].count == 0  # the attempt is visible, nothing counts as delivered
    smtp.refuse = False
    result = env.run("digest", "send", "--now", now_after_seed().isoformat())
    assert result.exit_code == 0, result.output
    assert len(smtp.messages) == 2 and db["digest_items"].count == 6


def test_failing_quit_after_acceptance_counts_as_delivered(env, smtp, monkeypatch):
    # the server accepted DATA, then answered QUIT with 421: recorded as failed, the digest went out twice
    async def handle_QUIT(server, session, envelope):
        return "421 4.3.0 closing"

    monkeypatch.setattr(smtp, "handle_QUIT", handle_QUIT, raising=False)
    monkeypatch.setenv("TEST_SMTP_URL", f"smtp://127.0.0.1:{smtp.port}")
    make_config(env, smtp.port)
    seed(env)
    result = env.run("digest", "send", "--now", now_after_seed().isoformat())
    assert result.exit_code == 0, result.output
    assert len(smtp.messages) == 2 and env.db()["digest_items"].count == 6
    assert {r["status"] for r in env.db()["digests"].rows} == {"sent"}
    assert "nothing new" in env.run("digest", "send", "--now", now_after_seed().isoformat()).output
    assert len(smtp.messages) == 2


def test_unreachable_server_records_nothing(env, monkeypatch, caplog):
    port = free_port()  # nothing listens there
    monkeypatch.setenv("TEST_SMTP_URL", f"smtp://user:s3cr%40t@127.0.0.1:{port}?timeout=2")
    make_config(env, port)
    seed(env)
    result = env.run("digest", "send", "--now", now_after_seed().isoformat())
    assert result.exit_code == 1
    assert "cannot deliver through smtp://user:***@127.0.0.1" in result.output
    assert "s3cr" not in result.output and "s3cr" not in caplog.text
    rows = list(env.db()["digests"].rows)
    assert {r["status"] for r in rows} == {"failed"} and not any("s3cr" in r["error"] for r in rows)
    assert env.db()["digest_items"].count == 0


def test_starttls_required_refuses_plain_server(env, smtp, monkeypatch):
    monkeypatch.setenv("TEST_SMTP_URL", f"smtp://127.0.0.1:{smtp.port}?starttls=required")
    make_config(env, smtp.port)
    seed(env)
    result = env.run("digest", "send", "--now", now_after_seed().isoformat())
    assert result.exit_code == 1 and "does not offer STARTTLS" in result.output
    assert smtp.messages == [] and env.db()["digest_items"].count == 0
    assert {r["status"] for r in env.db()["digests"].rows} == {"failed"}


def _certificate(tmp_path: Path) -> tuple[Path, Path]:
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_starttls_upgrade_and_authentication_with_percent_decoded_credentials(env, monkeypatch, tmp_path):
    cert, key = _certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=True)

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), tls_context=context,
                            authenticator=authenticator, auth_require_tls=True)
    controller.start()
    try:
        monkeypatch.setenv("TEST_SMTP_URL", f"smtp://us%40er:p%40ss%3Aw@127.0.0.1:{controller.port}?cafile={cert}")
        make_config(env, controller.port)
        seed(env)
        result = env.run("digest", "send", "--to", "analyst@example.org", "--now", now_after_seed().isoformat())
        assert result.exit_code == 0, result.output
    finally:
        controller.stop()
    assert inbox.tls == [True]  # upgraded because the server offered STARTTLS
    assert logins == [("us@er", "p@ss:w")]


def test_smtp_url_parsing():
    t = parse_smtp_url("smtps://a%20b:c%2Fd@mail.example.org")
    assert (t.scheme, t.host, t.port, t.username, t.password, t.starttls) == ("smtps", "mail.example.org", 465, "a b", "c/d", "never")
    assert t.masked == "smtps://a b:***@mail.example.org:465"
    assert parse_smtp_url("smtp://relay").port == 25 and parse_smtp_url("smtp://relay").starttls == "auto"
    with pytest.raises(MailError):
        parse_smtp_url("http://relay")
    with pytest.raises(MailError):
        parse_smtp_url("smtp://relay?starttls=maybe")


def test_empty_digest_sent_as_nothing_new_when_configured(env, smtp, monkeypatch):
    monkeypatch.setenv("TEST_SMTP_URL", f"smtp://127.0.0.1:{smtp.port}")
    make_config(env, smtp.port, extra_digest="send_empty = true",
                subscribers='[[digest.subscribers]]\nemail = "quiet@example.org"\ntopics = ["cranes"]\nsources = ["ep-open-data"]\n')
    seed(env)
    result = env.run("digest", "send", "--now", now_after_seed().isoformat())
    assert result.exit_code == 0, result.output
    assert len(smtp.messages) == 1 and "nothing new" in smtp.messages[0]["Subject"]
    assert smtp.messages[0]["Subject"].startswith("Cranes: nothing new") or smtp.messages[0]["Subject"].startswith("CRANES: nothing new")


def test_dry_run_and_preview_send_nothing(env, smtp, monkeypatch, tmp_path):
    monkeypatch.setenv("TEST_SMTP_URL", f"smtp://127.0.0.1:{smtp.port}")
    make_config(env, smtp.port)
    seed(env)
    now = now_after_seed().isoformat()
    result = env.run("digest", "send", "--dry-run", "--now", now)
    assert result.exit_code == 0, result.output
    assert "analyst@example.org: would send: 4 mentions (2 critical)" in result.output
    assert "critic@example.org: would send: 2 mentions (2 critical)" in result.output
    out = tmp_path / "preview.html"
    result = env.run("digest", "preview", "--to", "critic@example.org", "--html", str(out), "--now", now)
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert "data:image/png;base64," in html and "NEAL-NET" not in html.split("<body", 1)[1]
    result = env.run("digest", "preview", "--now", now)
    assert "<!DOCTYPE html>" in result.output
    assert smtp.messages == [] and env.db()["digests"].count == 0


def test_display_limits_link_to_the_rest(env):
    config = make_config(env, None, extra_digest="max_documents = 2\nmax_mentions_per_document = 1")
    db = seed(env)
    for i in range(4):
        add_document(db, "federal-register", f"extra-{i}", f"Extra notice {i}", [
            {"sentence": f"LOGINK item {i} first.", "stance": "neutral"},
            {"sentence": f"LOGINK item {i} second.", "stance": "neutral"}])
    d = build_digest(db, config, "analyst@example.org", now_after_seed())
    logink = d.sections[0].entities[0]
    shown = [doc for s in logink.stories for doc in s.documents]
    assert len(shown) == 2 and all(len(doc.mentions) == 1 and doc.more_mentions == 1 for doc in shown)
    assert logink.total == 11 and logink.more == 7
    assert "and 7 more mentions of LOGINK" in d.html and "entity_id=platform%3Alogink" in logink.more_link


def test_story_grouping_when_documents_share_a_story(env):
    config = make_config(env, None)
    db = seed(env)
    if "story_id" not in db["documents"].columns_dict:
        db["documents"].add_column("story_id", int)
    a = add_document(db, "news-rss", "a", "Outlet A on LOGINK", [{"sentence": "LOGINK story from A.", "stance": "critical"}])
    b = add_document(db, "news-rss", "b", "Outlet B on LOGINK", [{"sentence": "LOGINK story from B.", "stance": "critical"}])
    db.execute("update documents set story_id = 7 where id in (?, ?)", [a, b])
    d = build_digest(db, config, "analyst@example.org", now_after_seed())
    stories = d.sections[0].entities[0].stories
    shared = [s for s in stories if s.key == "story:7"]
    assert len(shared) == 1 and {doc.title for doc in shared[0].documents} == {"Outlet A on LOGINK", "Outlet B on LOGINK"}
    assert "Story reported by 2 outlets" in d.html


def test_schedule_parsing_and_due_instant():
    from zoneinfo import ZoneInfo

    s = parse_schedule("mon 07:00")
    tz = ZoneInfo("Europe/Brussels")
    # Monday 2026-11-30 07:00 Brussels = 06:00 UTC
    assert s.last_due(dt.datetime(2026, 11, 30, 6, 0, tzinfo=dt.timezone.utc), tz) == dt.datetime(2026, 11, 30, 6, 0, tzinfo=dt.timezone.utc)
    assert s.last_due(dt.datetime(2026, 11, 30, 5, 59, tzinfo=dt.timezone.utc), tz) == dt.datetime(2026, 11, 23, 6, 0, tzinfo=dt.timezone.utc)
    assert parse_schedule("daily 18:30").days == tuple(range(7))
    assert parse_schedule("mon,thu 07:00").days == (0, 3)
    for bad in ("monday 7", "mon 25:00", "07:00"):
        with pytest.raises(ValueError):
            parse_schedule(bad)


@pytest.mark.parametrize(("snippet", "key"), [
    ('[digest]\nschedule = "someday"', "digest.schedule"),
    ('[digest]\ntimezone = "Mars/Olympus"', "digest.timezone"),
    ('[digest]\nsubscribers = [{email = "a@b.c", min_stance = "angry"}]', "digest.subscribers[0].min_stance"),
    ('[digest]\nsubscribers = [{email = "a@b.c", min_score = 2}]', "digest.subscribers[0].min_score"),
    ('[digest]\nsend_empty = "yes"', "digest.send_empty"),
    ('[digest]\nbase_url = "javascript:alert(1)//"', "digest.base_url"),
    ('[digest]\nsmtp_deadline_s = nan', "digest.smtp_deadline_s"),
    ('[digest]\nsmtp_deadline_s = 0', "digest.smtp_deadline_s"),
    ('[digest]\nsubscribers = [{email = "a@b.c, d@e.f"}]', "digest.subscribers[0].email"),
])
def test_config_validation(tmp_path, snippet, key):
    path = tmp_path / "t.toml"
    path.write_text(snippet)
    with pytest.raises(ConfigError) as info:
        load_config(str(path))
    assert info.value.key == key


def test_subscriber_from_string_gets_every_topic(env):
    config = make_config(env, None)
    db = seed(env)
    d = build_digest(db, config, "someone@example.org", now_after_seed())
    assert {s.name for s in d.sections} == {"logink", "cranes"}
    assert isinstance(d.subscriber, Subscriber) and d.total == 5


def test_footer_reports_failing_and_stale_sources(env):
    env.configure({"federal-register": {}, "ec-press": {}}, extra=(
        '[topics.logink]\nentities = ["platform:logink"]\nterms = ["LOGINK"]\n'
        '[digest]\nbase_url = "https://tracker.example.org"\n'))
    config = load_config(str(env.config_path))
    db = seed(env)
    run = writes.start_run(db, "federal-register")
    writes.finish_run(db, run, "federal-register", "failed", {}, "HTTP 503 from upstream", None, {})
    d = build_digest(db, config, "x@example.org", now_after_seed())
    assert [h["source"] for h in d.health] == ["federal-register"]  # ec-press never ran: not an alarm
    assert "1 of 2 sources need attention" in d.html and "federal-register: <b>failing</b>" in d.html
    assert "HTTP 503 from upstream" in d.html and "- federal-register: failing (failed: HTTP 503 from upstream)" in d.text


def test_digest_highlights_when_case_folding_changes_length(env):
    """The digest used str.lower(), which turns 'İ' into two characters and shifted the mark by one."""
    config = make_config(env, None)
    db = seed(env)
    add_document(db, "federal-register", "izmir-1", "Izmir notice", [
        {"sentence": "İzmir and İstanbul ports joined Logink last year.", "stance": "neutral", "text": "LOGINK"}])
    d = build_digest(db, config, "analyst@example.org", now_after_seed())
    assert "İzmir and İstanbul ports joined »Logink« last year." in d.text
    assert '<mark style="background:#fde68a;padding:0 2px">Logink</mark> last year.' in d.html


GPO_SENTENCE = ("[Congressional Bills 118th Congress]\n[From the U.S. Government Publishing Office]\n"
                "[H.R. 6228 Introduced in House (IH)]\n<DOC>\n118th CONGRESS\n1st Session\nH. R. 6228\n"
                "To require the Secretary of Transportation and the Commissioner of U.S.\nCustoms and Border "
                "Protection to develop an alternative platform to\nLOGINK, and for other purposes.\n" + "_" * 40)


def test_subject_and_title_share_the_period(env, smtp, monkeypatch):
    """The subject said "week of 2026-11-23" (the Monday before the period start) for a body covering
    29 Nov to 6 Dec."""
    monkeypatch.setenv("TEST_SMTP_URL", f"smtp://127.0.0.1:{smtp.port}")
    config = make_config(env, smtp.port)
    db = seed(env)
    from tracker.mailer import send_digests

    assert {o.status for o in send_digests(db, config, "2026-11-29T06:00:00+00:00")} == {"sent"}  # a Sunday
    with clock.frozen("2026-12-05T12:00:00+00:00"):
        add_document(db, "federal-register", "2026-22222", "December notice", [
            {"sentence": "LOGINK is named again.", "stance": "critical"}])
    d = build_digest(db, config, "analyst@example.org", "2026-12-06T06:00:00+00:00")
    assert d.subject == "LOGINK: 1 new mention (1 critical) — 29 Nov - 6 Dec 2026"
    assert d.title == "LOGINK digest, 29 Nov - 6 Dec 2026" and d.title in d.html and d.text.startswith(d.title)
    assert "new since 2026-11-29 07:00 until 2026-12-06 07:00" in d.text


def test_bill_boilerplate_is_never_quoted(env):
    config = make_config(env, None)
    db = seed(env)
    add_document(db, "federal-register", "118-hr-6228", "Alternative platform to LOGINK", [
        {"sentence": GPO_SENTENCE, "stance": "critical"}])
    d = build_digest(db, config, "analyst@example.org", now_after_seed())
    quoted = ("To require the Secretary of Transportation and the Commissioner of U.S. Customs and Border Protection "
              "to develop an alternative platform to »LOGINK«, and for other purposes.")
    assert f'"{quoted}"' in d.text
    for part in (d.text, d.html):
        assert "Congressional Bills" not in part and "Publishing Office" not in part and "DOC&gt;" not in part
        assert "<DOC>" not in part and "118th CONGRESS" not in part and "____" not in part
    assert '<mark style="background:#fde68a;padding:0 2px">LOGINK</mark>, and for other purposes.' in d.html


def test_one_heading_per_level(env):
    config = make_config(env, None)
    db = seed(env)
    # one topic, one entity named like the topic: the title says LOGINK, the summary the counts, nothing repeats
    critic = build_digest(db, config, "critic@example.org", now_after_seed())
    assert critic.title.startswith("LOGINK digest, ")
    assert "2 new mentions" in critic.html and "2 mentions" not in critic.html and "2 critical" not in critic.html
    assert "-- LOGINK" not in critic.text and "== LOGINK" not in critic.text
    assert critic.text.count("2 new mentions") == 1
    # one topic, two entities: entity headings with their own counts, no topic heading
    analyst = build_digest(db, config, "analyst@example.org", now_after_seed())
    assert "-- LOGINK (3, 2 critical, 1 neutral)" in analyst.text and "-- NEAL-NET (1, 1 supportive)" in analyst.text
    assert "== LOGINK" not in analyst.text and "3 mentions &middot; 2 critical" in analyst.html
    # two topics: a heading per topic; CRANES has one entity, ZPMC, named (not counted again)
    everyone = build_digest(db, config, "someone@example.org", now_after_seed())
    assert "== LOGINK (4 mentions) ==" in everyone.text and "== CRANES (1 mention) ==" in everyone.text
    assert "\n-- ZPMC\n" in everyone.text and "-- ZPMC (" not in everyone.text


def test_chart_range_fits_the_data(env):
    config = make_config(env, None)
    db = seed(env)
    first = build_digest(db, config, "analyst@example.org", now_after_seed())
    assert [w["week"] for w in first.chart] == ["2026-11-23"]  # a first crawl: one bar, not 7 empty weeks before it
    assert _png_size(first.chart_png) == (40, 96) and 'width="40"' in first.html
    with clock.frozen("2026-11-03T10:00:00+00:00"):
        add_document(db, "federal-register", "early-1", "Early notice", [{"sentence": "LOGINK early.", "stance": "neutral"}])
    later = build_digest(db, config, "analyst@example.org", now_after_seed())
    assert [w["week"] for w in later.chart] == ["2026-11-02", "2026-11-09", "2026-11-16", "2026-11-23"]
    assert later.chart[0]["neutral"] == 1 and _png_size(later.chart_png) == (160, 96)


def _png_size(png: bytes) -> tuple[int, int]:
    import struct

    return struct.unpack(">II", png[16:24])


def test_only_web_urls_become_links(env):
    config = make_config(env, None)
    db = seed(env)
    for source_id, url in (("js-1", "javascript:alert(document.cookie)"), ("data-1", "data:text/html,<b>x</b>"),
                           ("ftp-1", "ftp://files.example.org/a")):
        doc = add_document(db, "news-rss", source_id, f"Odd link {source_id}", [
            {"sentence": f"LOGINK via {source_id}.", "stance": "neutral"}])
        db.execute("update documents set url = ? where id = ?", [url, doc])
    db["dossiers"].insert({"key": "us-bill:118-hr-9", "kind": "bill", "source": "congress-gov", "title": "Odd bill",
                           "url": "javascript:alert(1)", "first_seen_at": clock.now_iso()}, alter=True)
    d = build_digest(db, config, "analyst@example.org", now_after_seed())
    for scheme in ("javascript:", "data:", "ftp:"):
        assert f'href="{scheme}' not in d.html
    assert "original address (not a web link): <code>javascript:alert(document.cookie)</code>" in d.html
    assert "original address (not a web link): data:text/html,<b>x</b>" in d.text
    assert "Odd bill" in d.html and "javascript:alert(1)" not in d.html and "javascript:alert(1)" not in d.text
    docs = [doc for s in d.sections[0].entities[0].stories for doc in s.documents if doc.title.startswith("Odd link")]
    assert len(docs) == 3 and all(doc.url is None and doc.link.startswith("https://tracker.example.org/") for doc in docs)
    assert 'href="https://upstream.example.gov/2025-03134"' in d.html  # http(s) still linked


def test_footer_says_never_run_until_a_source_has_run(env):
    env.configure({"federal-register": {}, "ec-press": {}}, extra=(
        '[topics.logink]\nentities = ["platform:logink"]\nterms = ["LOGINK"]\n'
        '[digest]\nbase_url = "https://tracker.example.org"\n'))
    config = load_config(str(env.config_path))
    db = seed(env)
    d = build_digest(db, config, "x@example.org", now_after_seed())
    assert "Source health: no source has run yet (2 enabled, never run)." in d.text
    assert "up to date" not in d.html and "up to date" not in d.text  # it said "all 2 enabled sources are up to date"
    run = writes.start_run(db, "federal-register")
    writes.finish_run(db, run, "federal-register", "ok", {"fetched": 3, "new": 3}, None, None, {})
    d = build_digest(db, config, "x@example.org", now_after_seed())
    assert "Source health: 1 of 2 enabled sources up to date; never run: ec-press." in d.text
    assert "1 of 2 enabled sources up to date; never run: ec-press." in d.html
