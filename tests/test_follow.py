"""Following a dossier, an entity and a saved search; each subscriber's own schedule and time zone.

Digests are delivered to a real SMTP server on loopback (aiosmtpd) and read back with the email
package; time moves with ``--now`` (the product clock), never the wall clock.
"""

from __future__ import annotations

import datetime as dt

from db import clock, writes
from db.schema import connect, ensure_schema

BILL = "us-bill:118-hr-1724"
SEARCH = '"port community system" AND China'
T0 = "2026-11-26T09:30:00+00:00"  # the fixed test clock (a Thursday)
T1 = "2026-11-27T09:30:00+00:00"
T2 = "2026-11-28T09:30:00+00:00"


def configure(env, subscribers: str, extra_digest: str = "") -> None:
    env.configure({}, extra=(
        '[topics.logink]\nentities = ["platform:logink", "org:cosco"]\nterms = ["LOGINK"]\n'
        '[digest]\nschedule = "mon 07:00"\ntimezone = "Europe/Brussels"\nfrom = "Tracker <tracker@example.org>"\n'
        'smtp_url_env = "TEST_SMTP_URL"\nbase_url = "https://tracker.example.org/"\n' + extra_digest + "\n" + subscribers))


FOLLOWER = (f'[[digest.subscribers]]\nemail = "follower@example.org"\ndossiers = ["{BILL}"]\n'
            f'entities = ["org:cosco"]\nsearches = [\'{SEARCH}\']\n')


def document(db, source: str, source_id: str, title: str, text: str, group_key: str | None = None,
             mentions: list[dict] = ()) -> int:
    content_hash = f"h-{source_id}-{len(text)}"
    _, doc_id = writes.upsert_document(db, {
        "source": source, "source_id": source_id, "url": f"https://upstream.example.gov/{source_id}", "title": title,
        "text": text, "doc_type": "bill" if group_key else "article", "jurisdiction": "US", "institution": None,
        "published_at": clock.now_iso()[:10], "fetched_at": clock.now_iso(), "content_hash": content_hash,
        "group_key": group_key})
    if mentions:
        writes.replace_annotations(db, doc_id, {
            "mentions": [{"entity": m["entity"], "topic": "logink", "text": m["text"], "sentence": m["sentence"],
                          "start": None, "end": None, "stance": m["stance"], "stance_score": 0.9} for m in mentions],
            "topics": [{"topic": "logink", "stance": mentions[0]["stance"], "score": 0.8, "mentions": len(mentions)}],
        }, content_hash, "test-model", 1)
    return doc_id


def bill(db, stage: str, events: list[dict]) -> None:
    writes.save_dossier(db, {"key": BILL, "source": "congress-gov", "kind": "bill", "title": "Port Crane Security Act",
                             "url": "https://www.congress.gov/bill/118th-congress/house-bill/1724", "stage": stage,
                             "fetched_at": clock.now_iso(), "events": events})


def seed(env):
    db = connect(env.db_path)
    ensure_schema(db)
    writes.register_sources(db, [{"id": s, "title": s} for s in ("congress-gov", "news-rss")])
    writes.save_entities(db, [{"id": "org:cosco", "name": "China COSCO Shipping Corporation", "type": "COMPANY"}])
    with clock.frozen(clock.aware(T0) - dt.timedelta(hours=2)):
        bill(db, "Introduced", [{"date": "2026-11-20", "kind": "IntroReferral", "description": "Introduced in House"}])
        document(db, "congress-gov", "118-hr-1724-ih", "Port Crane Security Act (Introduced)",
                 "A bill to prohibit cranes. Section 2. Prohibition.", group_key=BILL)
        document(db, "news-rss", "cosco-1", "COSCO opens a terminal", "COSCO opened a terminal.",
                 mentions=[{"entity": "org:cosco", "text": "COSCO", "sentence": "COSCO opened a terminal.",
                            "stance": "neutral"}])
    return db


def news(db) -> None:
    """What happens between T0 and T1: a stage change, a new event, a new text version, a critical
    mention of COSCO and an article matching the saved search."""
    with clock.frozen(clock.aware(T1) - dt.timedelta(hours=3)):
        bill(db, "Reported", [{"date": "2026-11-26", "kind": "Committee", "description": "Ordered to be reported"}])
        document(db, "congress-gov", "118-hr-1724-ih", "Port Crane Security Act (Introduced)",
                 "A bill to prohibit cranes. Section 2. Prohibition. Section 3. Reports.", group_key=BILL)
        document(db, "news-rss", "cosco-2", "Lawmakers question COSCO", "COSCO is a risk to port data, lawmakers say.",
                 mentions=[{"entity": "org:cosco", "text": "COSCO", "sentence": "COSCO is a risk to port data, lawmakers say.",
                            "stance": "critical"}])
        document(db, "news-rss", "pcs-1", "Ports weigh a community platform",
                 "Rotterdam's port community system is compared with China's LOGINK.")
        document(db, "news-rss", "pcs-2", "Unrelated port community system news", "A port community system in Chile.")


def texts(smtp, email: str) -> list[str]:
    return [m.get_body(("plain",)).get_content() for m in smtp.messages if m["To"] == email]


def test_digest_reports_what_happened_to_followed_items(env, smtp, monkeypatch):
    monkeypatch.setenv("TEST_SMTP_URL", f"smtp://127.0.0.1:{smtp.port}")
    configure(env, FOLLOWER)
    db = seed(env)
    assert env.run("digest", "send", "--now", T0).exit_code == 0
    first = texts(smtp, "follower@example.org")[0]
    assert "WHAT YOU FOLLOW" in first
    assert "Introduced in House" in first and "New text version: Port Crane Security Act (Introduced) (version 1" in first
    assert "Stage changed" not in first  # the first digest only sets the baseline
    assert "COSCO opened a terminal." in first

    news(db)
    result = env.run("digest", "send", "--now", T1)
    assert result.exit_code == 0, result.output
    message = [m for m in smtp.messages if m["To"] == "follower@example.org"][1]
    second = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Stage changed: Introduced → Reported" in second
    assert "2026-11-26: Committee — Ordered to be reported" in second
    assert "(version 2, congress-gov)" in second
    assert "Introduced in House" not in second and "(version 1" not in second  # reported once only
    assert '[CRITICAL] Lawmakers question COSCO' in second and '"COSCO is a risk to port data, lawmakers say."' in second
    assert "COSCO opened a terminal." not in second
    assert f"-- Search: {SEARCH}: 1 new matching document" in second
    assert "Ports weigh a community platform" in second and "Chile" not in second
    assert "followed items moved" in message["Subject"]
    assert "Stage changed: Introduced → Reported" in html and "What you follow" in html
    assert "Search: &#34;port community system&#34; AND China" in html or "Search: &quot;port community system&quot;" in html

    assert env.run("digest", "send", "--now", T2).exit_code == 0
    assert len(texts(smtp, "follower@example.org")) == 2  # nothing new: the third digest is skipped as empty


def test_failed_delivery_reports_the_items_again(env, smtp, monkeypatch):
    monkeypatch.setenv("TEST_SMTP_URL", f"smtp://127.0.0.1:{smtp.port}")
    configure(env, FOLLOWER)
    seed(env)
    smtp.refuse = True
    assert env.run("digest", "send", "--now", T0).exit_code == 1
    smtp.refuse = False
    assert env.run("digest", "send", "--now", T1).exit_code == 0
    assert "Introduced in House" in texts(smtp, "follower@example.org")[0]


SCHEDULES = (
    '[[digest.subscribers]]\nemail = "daily@example.org"\nschedule = "daily 07:00"\ntimezone = "America/New_York"\n'
    '[[digest.subscribers]]\nemail = "weekly@example.org"\nschedule = "mon 07:00"\n'
    '[[digest.subscribers]]\nemail = "feed@example.org"\nschedule = "never"\n'
)


def test_each_subscriber_has_its_own_schedule_and_time_zone(env, smtp, monkeypatch):
    monkeypatch.setenv("TEST_SMTP_URL", f"smtp://127.0.0.1:{smtp.port}")
    configure(env, SCHEDULES, extra_digest="send_empty = true")
    seed(env)
    ticks = ("2026-11-26T12:30:00Z",  # Thu 07:30 in New York: daily due; weekly's first digest (last Monday's slot)
             "2026-11-27T11:30:00Z",  # Fri 06:30 in New York: nobody due
             "2026-11-27T12:30:00Z")  # Fri 07:30 in New York: daily due again
    counts = []
    for now in ticks:
        result = env.run("run", "--no-nlp", "--now", now)
        assert result.exit_code == 0, result.output
        counts.append({e: len(texts(smtp, e)) for e in ("daily@example.org", "weekly@example.org", "feed@example.org")})
    assert counts == [{"daily@example.org": 1, "weekly@example.org": 1, "feed@example.org": 0},
                      {"daily@example.org": 1, "weekly@example.org": 1, "feed@example.org": 0},
                      {"daily@example.org": 2, "weekly@example.org": 1, "feed@example.org": 0}]
    sent = env.run("digest", "send", "--now", "2026-11-27T13:00:00Z")
    assert "feed@example.org: schedule never (feed-only), not sent" in sent.output
    assert len(texts(smtp, "feed@example.org")) == 0


def test_config_errors_for_unknown_follows(env):
    cases = {
        'entities = ["org:no-such-company"]': "digest.subscribers[0].entities: unknown entity id 'org:no-such-company'",
        'dossiers = ["us-bill:hr-1724"]': "digest.subscribers[0].dossiers: unknown dossier id 'us-bill:hr-1724'",
        'dossiers = ["bill:118-hr-1"]': "digest.subscribers[0].dossiers: unknown dossier id 'bill:118-hr-1'",
        'searches = ["NOT LOGINK"]': "digest.subscribers[0].searches: 'NOT LOGINK'",
        'schedule = "weekly"': "digest.subscribers[0].schedule: expected a schedule like",
        'timezone = "Mars/Olympus"': "digest.subscribers[0].timezone: unknown time zone 'Mars/Olympus'",
    }
    for line, error in cases.items():
        configure(env, f'[[digest.subscribers]]\nemail = "a@example.org"\n{line}\n')
        result = env.run("digest", "subscribers")
        assert result.exit_code == 2, line
        assert error in result.output and len(result.output.strip().splitlines()) == 1, result.output


def test_subscribers_lists_schedule_follows_and_what_is_not_in_the_database_yet(env):
    configure(env, FOLLOWER.replace(f'"{BILL}"', f'"{BILL}", "ep-procedure:2023/2059(INI)"') + SCHEDULES)
    seed(env)
    result = env.run("digest", "subscribers")
    assert result.exit_code == 0, result.output
    assert f"follower@example.org: active; schedule mon 07:00 (Europe/Brussels); topics logink; follows {BILL}" in result.output
    assert "not in the database yet (no section until it appears): ep-procedure:2023/2059(INI)" in result.output
    assert "daily@example.org: active; schedule daily 07:00 (America/New_York)" in result.output
    rows = {r["email"]: r for r in __import__("json").loads(env.run("digest", "subscribers", "--json").stdout)}
    assert rows["follower@example.org"]["follows"] == {"dossiers": [BILL, "ep-procedure:2023/2059(INI)"],
                                                       "entities": ["org:cosco"], "searches": [SEARCH]}
    assert rows["follower@example.org"]["not_in_database"] == ["ep-procedure:2023/2059(INI)"]
    assert rows["feed@example.org"]["schedule"] == "never" and rows["feed@example.org"]["state"] == "active"


def test_a_claim_that_loses_its_slot_writes_no_marks(env):
    from tracker.config import load_config
    from tracker.digest import build_digest
    from tracker.mailer import _claim

    configure(env, FOLLOWER)
    db = seed(env)
    config = load_config(str(env.config_path))
    digest = build_digest(db, config, config.digest.subscribers[0])
    first = _claim(db, digest, "<one@example.org>")
    assert first is not None and _claim(db, digest, "<two@example.org>") is None  # same slot: a second process
    assert db["digests"].count == 1
    assert {r["digest_id"] for r in db["follow_marks"].rows} == {first}
    assert db["follow_marks"].count == len(digest.follow_marks) > 0


def test_a_failed_digest_keeps_the_stage_the_subscriber_last_saw(env, smtp, monkeypatch):
    monkeypatch.setenv("TEST_SMTP_URL", f"smtp://127.0.0.1:{smtp.port}")
    configure(env, FOLLOWER)
    db = seed(env)
    assert env.run("digest", "send", "--now", T0).exit_code == 0  # sees stage Introduced
    with clock.frozen(clock.aware(T1) - dt.timedelta(hours=3)):
        bill(db, "Introduced", [{"date": "2026-11-26", "kind": "Referral", "description": "Referred to committee"}])
    smtp.refuse = True
    assert env.run("digest", "send", "--now", T1).exit_code == 1  # refused: its marks no longer count
    smtp.refuse = False
    with clock.frozen(clock.aware(T2) - dt.timedelta(hours=3)):
        bill(db, "Reported", [])
    assert env.run("digest", "send", "--now", T2).exit_code == 0
    last = texts(smtp, "follower@example.org")[-1]
    assert len(texts(smtp, "follower@example.org")) == 2
    assert "Stage changed: Introduced → Reported" in last and "Referred to committee" in last


def test_a_followed_dossier_that_does_not_exist_is_a_config_error_once_the_database_exists(env):
    follow = '[[digest.subscribers]]\nemail = "a@example.org"\ndossiers = ["{}"]\n'
    configure(env, follow.format("us-bill:118-hr-99999"))
    before = env.run("digest", "subscribers")  # no database yet: only the id's form can be checked
    assert before.exit_code == 0 and "not in the database yet" in before.output, before.output
    env.run("init")
    after = env.run("digest", "subscribers")
    assert after.exit_code == 2 and len(after.output.strip().splitlines()) == 1, after.output
    assert "digest.subscribers[0].dossiers: unknown dossier 'us-bill:118-hr-99999'" in after.output
    configure(env, follow.format("us-bill:118-hr-6228"))  # a bill congress-gov is configured to crawl
    assert env.run("digest", "subscribers").exit_code == 0
    seed(env)
    configure(env, follow.format(BILL))  # stored by a crawl
    assert env.run("digest", "subscribers").exit_code == 0
