"""The mention highlight span, defined once (tracker.highlight) for the digest and the front end: offsets
when they fit, else an exact match, else a case-insensitive one mapped back to the original characters
even when case folding changes the length of the text ("İ".lower() and "ß".casefold() are two characters)."""

from __future__ import annotations

import pytest

from tracker.highlight import find_span, highlight_html, highlight_text


@pytest.mark.parametrize(("sentence", "text", "expected"), [
    ("İzmir and İstanbul ports joined Logink.", "LOGINK", "Logink"),  # 'İ'.lower() is 2 characters: no shift
    ("Die STRASSE zum Hafen", "Straße", "STRASSE"),  # the folded text is longer than the mention
    ("Die Straße zum Hafen", "STRASSE", "Straße"),  # the folded sentence is longer than the original
    ("ΣΊΣΥΦΟΣ and LOGINK", "logink", "LOGINK"),
])
def test_case_insensitive_span_is_mapped_back(sentence, text, expected):
    start, end = find_span(sentence, text)
    assert sentence[start:end] == expected


def test_offsets_win_when_they_point_at_the_text_and_partial_characters_never_match():
    sentence = "LOGINK, then LOGINK again"
    assert find_span(sentence, "LOGINK", 13, 19) == (13, 19)
    assert find_span(sentence, "LOGINK", 2, 8) == (0, 6)  # offsets that do not point at the text are ignored
    assert find_span("Maße", "s") is None  # 's' is half of the folded 'ß': not a match
    assert find_span("", "x") is None and find_span("abc", None) is None


def test_html_is_escaped_and_text_is_marked():
    html = highlight_html("<b>İzmir</b> & Logink", "LOGINK", mark_style="background:#fde68a")
    assert str(html) == '&lt;b&gt;İzmir&lt;/b&gt; &amp; <mark style="background:#fde68a">Logink</mark>'
    assert str(highlight_html("a LOGINK", "LOGINK")) == "a <mark>LOGINK</mark>"
    assert highlight_text("İzmir and Logink", "LOGINK") == "İzmir and »Logink«"
    assert highlight_text("nothing here", "LOGINK") == "nothing here"
