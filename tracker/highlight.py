"""Where a mention sits in its sentence, and the sentence with the mention marked: one rule for the
digest (HTML and plain text) and the front end's plugin. Imports only markupsafe.

`find_span` trusts the stored offsets when they point at the mention's text, else takes the first
exact match, else the first case-insensitive one. Case folding can change a string's length
(``"ß".casefold()`` is ``"ss"``, ``"İ".lower()`` is two characters), so the insensitive match is made
on a folded copy that remembers, for each folded character, the original character it came from,
and the span is mapped back to the original text (never shifted, never cut inside a character).
"""

from __future__ import annotations

from markupsafe import Markup, escape


def _folded(text: str) -> tuple[str, list[int]]:
    """``text`` case-folded, and for each folded character the index of the original one."""
    chars, origin = [], []
    for i, char in enumerate(text):
        folded = char.casefold()
        chars.append(folded)
        origin.extend([i] * len(folded))
    return "".join(chars), origin


def find_span(sentence: str | None, text: str | None, start: int | None = None, end: int | None = None) -> tuple[int, int] | None:
    """(start, end) of the mention ``text`` in ``sentence`` (indices into ``sentence``), or None."""
    if not sentence or not text:
        return None
    if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(sentence) and sentence[start:end] == text:
        return start, end
    index = sentence.find(text)
    if index >= 0:
        return index, index + len(text)
    folded_sentence, origin = _folded(sentence)
    folded_text = text.casefold()
    at = folded_sentence.find(folded_text)
    while at >= 0:
        last = at + len(folded_text) - 1
        # the match must start and end on whole original characters
        starts_clean = at == 0 or origin[at - 1] != origin[at]
        ends_clean = last + 1 == len(origin) or origin[last + 1] != origin[last]
        if starts_clean and ends_clean:
            return origin[at], origin[last] + 1
        at = folded_sentence.find(folded_text, at + 1)
    return None


def highlight_html(sentence: str | None, text: str | None, start: int | None = None, end: int | None = None,
                   mark_style: str | None = None) -> Markup:
    """The sentence HTML-escaped, the mention wrapped in ``<mark>`` (with an inline style for e-mail)."""
    sentence = sentence or ""
    span = find_span(sentence, text, start, end)
    if span is None:
        return Markup(escape(sentence))
    a, b = span
    tag = Markup('<mark style="{}">').format(mark_style) if mark_style else Markup("<mark>")
    return Markup("{}{}{}</mark>{}").format(sentence[:a], tag, sentence[a:b], sentence[b:])


def highlight_text(sentence: str | None, text: str | None, start: int | None = None, end: int | None = None) -> str:
    """The sentence for plain text, the mention between » «."""
    sentence = sentence or ""
    span = find_span(sentence, text, start, end)
    if span is None:
        return sentence
    a, b = span
    return f"{sentence[:a]}»{sentence[a:b]}«{sentence[b:]}"
