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
