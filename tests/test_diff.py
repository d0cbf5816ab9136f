"""What changed between versions: the readable diff (tracker.diff) on a real statute, folding, escaping
and its bounds; the diff page and the row page's panel through Datasette's client; the digest's
"Changed since the last digest" section after a US Code amendment crawled over real HTTP, delivered
to the real SMTP server on loopback."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest

from crawler.sources.uscode import parse_section
from db import clock, writes
from db.schema import connect, ensure_schema
from tests.replay import FIXTURES
from tracker.diff import MAX_SHOWN_PARAGRAPHS, diff_texts
from tracker.serve import build_datasette

PAGE = FIXTURES / "uscode" / "examples" / "46-50309.html"
OLD_C = "(C) a similar system provided by Chinese state-affiliated entities."
NEW_C = ("(C) a similar system provided by Chinese state-affiliated entities; or</p>\n"
         '<p class="statutory-body-2em">(D) any platform designated by the Secretary under subsection (b)(2).')


def amended_page() -> str:
    return PAGE.read_text(encoding="utf-8").replace(OLD_C, NEW_C)


def section_text(page: str | bytes) -> str:
    return parse_section(page.encode("utf-8") if isinstance(page, str) else page, "https://uscode.house.gov/x", "46", "50309").text


def test_statute_amendment_names_the_subsection_and_counts_words():
    diff = diff_texts(section_text(PAGE.read_bytes()), section_text(amended_page()))
    assert diff.summary == "§ 50309(e)(1) changed: +12 words, -1 word"
    text = diff.text()
    assert "[§ 50309(e)(1)(D)] {+(D) any platform designated by the Secretary under subsection (b)(2).+}" in text
    assert "[-entities.-] {+entities; or+}" in text
    assert text.startswith("… 18 unchanged paragraphs …") and text.endswith("… 8 unchanged paragraphs …")


def test_changes_in_two_subsections_are_both_named():
    old = section_text(PAGE.read_bytes())
    new = section_text(amended_page()).replace("(b) Guidance.-The Secretary of Transportation shall-",
                                               "(b) Guidance.-The Secretary of Transportation and the Secretary of Homeland Security shall-")
    assert diff_texts(old, new).summary == "§ 50309(b) and (e)(1) changed: +18 words, -1 word"


def test_bill_sections_and_roman_numerals():
    old = "SEC. 2. PROHIBITION.\n\n(a) In general.--No funds.\n\n(b) Exception.--\n\n(i) first;\n\n(ii) second.\n\nSEC. 3. REPORT.\n\nThe Secretary shall report."
    new = old.replace("(ii) second.", "(ii) second, as amended.").replace("shall report.", "shall report annually.")
    diff = diff_texts(old, new)
    assert diff.summary == "Sec. 2(b)(ii) and Sec. 3 changed: +5 words, -2 words"
    labels = [b.label for b in diff.blocks if b.kind == "para"]
    assert "Sec. 2(b)(ii)" in labels and "Sec. 3" in labels
    # (i) after (h) is a letter, not a roman numeral
    letters = "\n\n".join(f"({c}) item {c}." for c in "abcdefghij")
    diff = diff_texts(letters, letters.replace("item i.", "item i changed."))
    assert [b.label for b in diff.blocks if b.kind == "para" and any(p.op == "ins" for p in b.pieces)] == ["(i)"]


def test_unchanged_text_is_folded_with_context():
    paras = [f"Paragraph {i} says something unchanged." for i in range(40)]
    new = list(paras)
    new[20] = "Paragraph 20 says something new."
    diff = diff_texts("\n\n".join(paras), "\n\n".join(new), context=2)
    kinds = [(b.kind, b.count) for b in diff.blocks]
    assert kinds[0] == ("fold", 18) and kinds[-1] == ("fold", 17)
    shown = [b for b in diff.blocks if b.kind == "para"]
    assert len(shown) == 5  # two before, the changed one, two after
    assert "… 18 unchanged paragraphs …" in diff.html()
    # a long paragraph keeps a few words around its change
    long_old = " ".join(f"w{i}" for i in range(300))
    long_new = long_old.replace("w150", "CHANGED")
    text = diff_texts(long_old, long_new).text()
    assert "[-w150-] {+CHANGED+}" in text and "unchanged words" in text and "w10 " not in text


def test_identical_texts():
    diff = diff_texts("Same.\n\nText.", "Same.\n\nText.")
    assert diff.identical and diff.summary == "no change in the text" and "<ins" not in diff.html()


def test_html_is_escaped():
    diff = diff_texts("Title: safe.", "Title: <script>alert('x')</script> & <img src=x onerror=alert(1)>.")
    html = str(diff.html())
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;" in html and "&amp;" in html and '<ins class="diff-ins">' in html


def test_twenty_megabyte_texts_are_bounded():
    paras = [f"Paragraph {i}: " + " ".join(f"term{(i * 7 + j) % 997}" for j in range(14)) for i in range(200_000)]
    old = "\n\n".join(paras)
    assert len(old) > 20_000_000
    changed = list(paras)
    for i in range(0, len(changed), 500):  # changes all through the text: no common ends to strip
        changed[i] += " amended"
    started = time.monotonic()
    diff = diff_texts(old, "\n\n".join(changed))
    assert time.monotonic() - started < 30
    assert diff.too_large and diff.added_words >= 400
    assert len(str(diff.html())) < 2_000_000 and diff.hidden > 0
    assert sum(b.kind == "para" for b in diff.blocks) <= MAX_SHOWN_PARAGRAPHS + 2
    # one huge paragraph: not diffed word by word, said so
    one_old, one_new = " ".join(paras[:20_000]), " ".join(changed[:20_000])
    started = time.monotonic()
    diff = diff_texts(one_old, one_new)
    assert time.monotonic() - started < 30
    assert diff.too_large and "too large to diff word by word" in diff.text()
    assert len(diff.text()) < 20_000


# --- the front end -------------------------------------------------------------------------------------

def _store_statute(db, page: str | bytes, fetched_at: str) -> int:
    text = section_text(page)
    return writes.upsert_document(db, {
        "source": "uscode", "source_id": "46-usc-50309", "url": "https://uscode.house.gov/view.xhtml?req=x",
        "title": "46 U.S.C. 50309: Securing logistics information data", "text": text, "doc_type": "statute",
        "jurisdiction": "US", "fetched_at": fetched_at, "content_hash": f"h-{len(text)}-{hash(text)}"})[1]


@pytest.fixture
def served(tmp_path):
    path = tmp_path / "tracker.db"
    db = connect(path)
    ensure_schema(db)
    writes.register_sources(db, [{"id": "uscode", "title": "US Code", "jurisdiction": "US", "kind": "web",
                                  "base_url": "https://uscode.house.gov", "enabled": 1, "interval": "1d"}])
    doc_id = _store_statute(db, PAGE.read_bytes(), "2026-11-01T10:00:00+00:00")
    _store_statute(db, amended_page(), "2026-11-20T10:00:00+00:00")
    _store_statute(db, amended_page().replace("(b)(2).", "(b)(2), &lt;script&gt;alert(1)&lt;/script&gt;."), "2026-11-25T10:00:00+00:00")
    return build_datasette(path), doc_id


def get(ds, path):
    return asyncio.run(ds.client.get(path))


def test_diff_page_shows_the_change(served):
    ds, doc_id = served
    response = get(ds, f"/-/diff/{doc_id}?from=1&to=2")
    assert response.status_code == 200, response.text
    page = response.text
    assert "§ 50309(e)(1) changed: +12 words, -1 word" in page
    assert '<ins class="diff-ins">(D) any platform designated by the Secretary under subsection (b)(2).</ins>' in page
    assert '<del class="diff-del">entities.</del>' in page and "… 18 unchanged paragraphs …" in page
    assert f'href="/tracker/documents/{doc_id}"' in page
    assert f"/-/diff/{doc_id}?from=2&amp;to=3" in page  # the other pair is linked
    latest = get(ds, f"/-/diff/{doc_id}").text  # default: the latest against the one before
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in latest and "<script>alert(1)" not in latest


def test_diff_page_refuses_bad_requests(served):
    ds, doc_id = served
    assert get(ds, f"/-/diff/{doc_id}?from=x").status_code == 400
    assert get(ds, f"/-/diff/{doc_id}?from=0").status_code == 400
    assert get(ds, "/-/diff/999999").status_code == 404
    assert get(ds, f"/-/diff/{doc_id}?from=1&to=9").status_code == 404


def test_row_page_shows_changes_between_versions(served):
    ds, doc_id = served
    page = get(ds, f"/tracker/documents/{doc_id}").text
    assert "Changes between versions" in page
    summary = page.index('class="meta version-summary"')  # the latest change, above the text
    assert summary < page.index('class="document-text"')
    assert f'Changed: <a href="/-/diff/{doc_id}?from=2&amp;to=3">version 2 → 3</a>: § 50309(e)(1) changed' in page
    assert f'href="/-/diff/{doc_id}?from=1&amp;to=2"' in page and f'href="/-/diff/{doc_id}?from=2&amp;to=3"' in page
    assert "version 1 → 2</a> (2026-11-20): § 50309(e)(1) changed: +12 words, -1 word" in page
    assert '<ins class="diff-ins">' in page and "<script>alert(1)" not in page


# --- the digest ----------------------------------------------------------------------------------------

GRANULE = "granuleid:USC-prelim-title46-section50309"


def serve_section(replay, body: bytes | str, etag: str) -> None:
    """The OLRC section view (as tests/test_uscode.py serves it): 304 for the current ETag, else the page."""
    def is_section(r):
        return r.args.get("req") == GRANULE and r.args.get("edition") == "prelim"
    replay.add("/view.xhtml", b"", status=304, headers={"ETag": etag},
               when=lambda r: is_section(r) and r.headers.get("If-None-Match") == etag)
    replay.add("/view.xhtml", body, headers={"ETag": etag}, content_type="text/html;charset=UTF-8",
               when=lambda r: is_section(r) and r.headers.get("If-None-Match") != etag)


def test_digest_says_what_changed_after_a_us_code_amendment(env, replay, smtp, monkeypatch):
    monkeypatch.setenv("TEST_SMTP_URL", f"smtp://127.0.0.1:{smtp.port}")
    env.configure({"uscode": {"base_url": replay.url()}}, extra=(
        '[topics.logink]\nentities = ["platform:logink"]\nterms = ["LOGINK"]\n'
        '[digest]\nschedule = "mon 07:00"\ntimezone = "UTC"\nfrom = "Tracker <tracker@example.org>"\n'
        'smtp_url_env = "TEST_SMTP_URL"\nbase_url = "https://tracker.example.org/"\nsend_empty = true\n'
        '[[digest.subscribers]]\nemail = "analyst@example.org"\ntopics = ["logink"]\n'))
    serve_section(replay, PAGE.read_bytes(), '"v1"')
    assert env.run("crawl", "uscode", "--no-nlp").exit_code == 0
    start = clock.now()
    first = env.run("digest", "send", "--now", (start + timedelta(hours=1)).isoformat())
    assert first.exit_code == 0, first.output
    assert len(smtp.messages) == 1 and "CHANGED SINCE THE LAST DIGEST" not in smtp.messages[0].get_body(("plain",)).get_content()

    serve_section(replay, amended_page(), '"v2"')
    with clock.frozen(start + timedelta(days=1)):
        crawled = env.run("crawl", "uscode", "--no-nlp")
    assert crawled.exit_code == 0 and "updated 1" in crawled.output, crawled.output
    second = env.run("digest", "send", "--now", (start + timedelta(days=4)).isoformat())
    assert second.exit_code == 0, second.output
    assert len(smtp.messages) == 2
    message = smtp.messages[1]
    doc_id = next(env.db()["documents"].rows)["id"]
    link = f"https://tracker.example.org/-/diff/{doc_id}?from=1&to=2"
    text = message.get_body(("plain",)).get_content()
    assert "CHANGED SINCE THE LAST DIGEST (1)" in text
    assert "46 U.S.C. 50309: Securing logistics information data of the United States [uscode, version 1 → 2" in text
    assert "§ 50309(e)(1) changed: +12 words, -1 word" in text and link in text
    html = message.get_body(("html",)).get_content()
    assert "Changed since the last digest (1)" in html and f'href="{link.replace("&", "&amp;")}"' in html

    third = env.run("digest", "send", "--now", (start + timedelta(days=8)).isoformat())
    assert third.exit_code == 0, third.output
    assert len(smtp.messages) == 3 and "CHANGED SINCE" not in smtp.messages[2].get_body(("plain",)).get_content()


BILL_IH = ("SEC. 1. SHORT TITLE.\n\nThis Act may be cited as the \"Port Data Act\".\n\nSEC. 2. PROHIBITION.\n\n"
           "(a) In General.--No Federal funds may be used for LOGINK.\n\n(b) Waiver.--The Secretary may waive subsection (a).\n\n"
           "SEC. 3. REPORT.\n\nThe Secretary shall report to Congress.")
BILL_RH = BILL_IH.replace("may waive subsection (a).", "may waive subsection (a) for national security reasons.").replace(
    "shall report to Congress.", "shall report to Congress annually.")


def test_new_text_version_of_a_followed_bill(env):
    db = connect(env.db_path)
    ensure_schema(db)
    writes.register_sources(db, [{"id": "congress-gov", "title": "Congress.gov", "jurisdiction": "US", "kind": "api",
                                  "base_url": "https://api.congress.gov/v3", "enabled": 1, "interval": "1d"}])
    writes.save_dossier(db, {"key": "us-bill:118-hr-1724", "source": "congress-gov", "kind": "bill", "title": "Port Data Act",
                             "url": "https://www.congress.gov/bill/118th-congress/house-bill/1724", "fetched_at": "2026-10-01T10:00:00+00:00",
                             "events": [{"date": "2026-10-01", "kind": "introduced", "description": "Introduced in House"}]})

    def bill_text(code: str, kind: str, text: str, day: str) -> int:
        return writes.upsert_document(db, {
            "source": "congress-gov", "source_id": f"118-hr-1724/{code}", "url": f"https://www.congress.gov/118/bills/hr1724/BILLS-118hr1724{code}.htm",
            "title": f"H.R. 1724 ({kind}): Port Data Act", "text": text, "doc_type": "bill_text", "group_key": "us-bill:118-hr-1724",
            "published_at": day, "fetched_at": f"{day}T12:00:00+00:00", "content_hash": f"h-{code}",
            "metadata": {"version_code": code}})[1]

    ih = bill_text("ih", "Introduced in House", BILL_IH, "2026-10-01")
    with clock.frozen("2026-11-24T12:00:00+00:00"):
        rh = bill_text("rh", "Reported in House", BILL_RH, "2026-11-24")
    env.configure({}, extra=(
        '[topics.logink]\nentities = ["platform:logink"]\nterms = ["LOGINK"]\n'
        '[digest]\nschedule = "mon 07:00"\ntimezone = "UTC"\nfrom = "Tracker <tracker@example.org>"\n'
        'base_url = "https://tracker.example.org/"\n'
        '[[digest.subscribers]]\nemail = "a@example.org"\ntopics = ["logink"]\ndossiers = ["us-bill:118-hr-1724"]\n'
        '[[digest.subscribers]]\nemail = "b@example.org"\ntopics = ["logink"]\n'))
    from tracker.config import load_config
    from tracker.digest import build_digest

    config = load_config(str(env.config_path))
    following = build_digest(env.db(), config, "a@example.org")
    assert "CHANGED SINCE THE LAST DIGEST (1)" in following.text
    assert "H.R. 1724 (Reported in House): Port Data Act [congress-gov, new text version after H.R. 1724 (Introduced in House)" in following.text
    assert "Sec. 2(b) and Sec. 3 changed: +7 words, -2 words" in following.text
    assert f"https://tracker.example.org/-/diff/{rh}?against={ih}" in following.text
    other = build_digest(env.db(), config, "b@example.org")  # neither follows the bill nor has it on a topic
    assert "CHANGED SINCE" not in other.text

    ds = build_datasette(env.db_path)
    page = get(ds, f"/-/diff/{rh}?against={ih}").text
    assert "Sec. 2(b) and Sec. 3 changed: +7 words, -2 words" in page
    assert '<del class="diff-del">(a).</del> <ins class="diff-ins">(a) for national security reasons.</ins>' in page
    row = get(ds, f"/tracker/documents/{rh}").text
    assert f'href="/-/diff/{rh}?against={ih}"' in row and "from the previous text version: H.R. 1724 (Introduced in House)" in row
