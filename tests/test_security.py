"""Hostile input: XML entities (XXE, billion laughs), SSRF through links, secrets kept out of logs and the database."""

from __future__ import annotations

import pytest

from crawler.errors import ParseError
from crawler.extract import parse_xml, xml_to_text

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<r><p>&xxe;</p></r>"""

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<lolz>&lol9;</lolz>"""


@pytest.mark.parametrize("payload", [XXE, LAUGHS])
def test_entity_declarations_are_refused(payload):
    with pytest.raises(ParseError, match="entities"):
        parse_xml(payload)


def test_entities_declared_late_are_still_not_expanded():
    padded = XXE.replace(b"<!DOCTYPE", b"<!--" + b" " * 5000 + b"-->\n<!DOCTYPE")
    try:
        text = xml_to_text(padded)
    except ParseError:
        return
    assert "root:" not in text


def test_malformed_xml_is_a_parse_error():
    with pytest.raises(ParseError, match="malformed XML"):
        parse_xml(b"<r><p>unclosed</r>")


# -- hostile payloads found by the fault matrix (tests/test_faults.py) ---------------------------------


@pytest.mark.parametrize("body", [b"<html><body>\x00\x01<<div<<p>>>%%\x00</span></ta", b"<p>\xef\xbf\xbd\xef\xbf\xbd \x01\x02 ok</p>",
                                  b"<html><body><p>%%% 123 ### !!!</p></body></html>"], ids=["markup", "undecodable", "no-words"])
def test_garbage_bodies_are_not_text(body):
    from crawler.extract import extract_text

    with pytest.raises(ParseError, match="no readable text"):
        extract_text(body, "text/html", "http://x.example/doc")


def test_short_real_text_is_readable():
    from crawler.extract import extract_text, readable

    assert extract_text(b"<p>Article 1</p>", "text/html")[0] == "Article 1"
    assert readable("港口 数据") and readable("Zoll") and not readable("\ufffd\ufffd\ufffd ab \ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd")


def test_ipv6_literal_keeps_its_brackets_in_canonical_urls():
    from crawler.urls import canonical_url

    assert canonical_url("http://[::1]:8080/a?b=1") == "http://[::1]:8080/a?b=1"
    assert canonical_url("https://[2001:db8::1]/x") == "https://[2001:db8::1]/x"


def test_private_address_is_refused_before_robots_txt_is_asked(monkeypatch):
    from crawler.errors import AddressRefused
    from crawler.http import HttpClient, HttpSettings

    client = HttpClient(HttpSettings(min_interval_s=0))
    monkeypatch.setattr(client.session, "request", lambda *a, **k: pytest.fail("nothing may be requested"))
    for url in ("http://127.0.0.2/a", "http://169.254.169.254/latest/meta-data/", "http://[::1]/x", "file:///etc/passwd"):
        with pytest.raises(AddressRefused):  # not RobotsDisallowed("robots.txt unreachable"), which news retries
            client.get(url, robots=True)


MALFORMED_FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><item><title>Unterminated</ti'
SLIPPED_FEED = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>A & B</title>'
                b"<item><title>Port data</title><link>https://ec.europa.eu/commission/presscorner/detail/en/ip_26_1</link></item>"
                b"</channel></rss>")


def test_broken_feeds_are_errors_and_slipped_feeds_are_read():
    from crawler.sources import ec_press, news_rss

    with pytest.raises(ParseError, match="malformed feed"):
        news_rss.parse_feed(MALFORMED_FEED, "http://x.example/feed")
    with pytest.raises(ParseError, match="malformed RSS"):
        ec_press.parse_rss(MALFORMED_FEED, "http://x.example/rss")
    meta, leads = news_rss.parse_feed(SLIPPED_FEED, "http://x.example/feed")  # an unescaped & is a slip, not a break
    assert meta["bozo"] and [lead.title for lead in leads] == ["Port data"]
    assert [item["reference"] for item in ec_press.parse_rss(SLIPPED_FEED, "http://x.example/rss")] == ["IP/26/1"]
