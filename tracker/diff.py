"""A readable diff between two versions of a text (pure: no database, no NLP).

`diff_texts(old, new)` aligns the two texts paragraph by paragraph first (blank lines separate
paragraphs; a text without blank lines is split into lines), then diffs word by word only inside the
paragraphs that changed. Unchanged paragraphs are folded ("… 12 unchanged paragraphs …") except
``context`` paragraphs around each change, and long unchanged runs of words inside a changed
paragraph are folded the same way.

Section-aware: every paragraph is labelled with where it sits in a statute or bill (`tracker.sections`):
a section heading (``§50309.``, ``SEC. 2.``, ``Sec. 3``, ``Section 4``, ``Article 12``) starts a
section; the enumerators that open paragraphs (``(a)``, ``(1)``, ``(A)``, ``(i)``, ``(I)``, ``1.``)
nest in the order they first appear, as US and EU drafting do, so ``(C)`` after ``(e)`` and ``(1)``
is ``§ 50309(e)(1)(C)``. The one-line `TextDiff.summary` names the units touched, at most two
enumerator levels deep (``§ 50309(b) and (e)(1) changed: +42 words, -7 words``).

Bounded: common leading and trailing paragraphs are stripped first (linear); the middle is aligned
with `difflib` only up to `MAX_ALIGN_PARAGRAPHS` paragraphs a side, beyond that the paragraphs are
compared as sets (what was removed, what was added; ``too_large`` is set and said). A changed range
is diffed word by word only up to `MAX_WORD_DIFF` words, and all ranges together up to
`WORD_BUDGET` words; past that, it is shown as removed and added paragraphs ("too large to diff word
by word"). What is shown is capped too (`MAX_SHOWN_PARAGRAPHS`, `MAX_PIECE_WORDS`): a 20 MB text
is diffed in seconds and its page stays small.

Two renderings: `TextDiff.html()` (every piece of text escaped, additions in ``<ins>``, deletions
in ``<del>``) and `TextDiff.text()` (wdiff style: ``{+added+}``, ``[-removed-]``).
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from dataclasses import dataclass, field

from markupsafe import Markup

from tracker.sections import labels as _labels

MAX_ALIGN_PARAGRAPHS = 4000   # per side, after common ends are stripped (difflib is ~quadratic in changes)
MAX_WORD_DIFF = 6000          # words of one changed range (old + new) diffed word by word
WORD_BUDGET = 60000           # words diffed word by word in all, per pair of texts
MAX_SHOWN_PARAGRAPHS = 300    # changed paragraphs shown; the rest counted
MAX_PIECE_WORDS = 400         # words shown of one added or removed piece
CONTEXT_WORDS = 12            # unchanged words kept each side of a change inside a paragraph
SUMMARY_LABELS = 6            # units named in the summary, the rest counted

BREAK = "\n"  # the token between paragraphs of a changed range

def paragraphs(text: str) -> list[str]:
    """The text's paragraphs, white space inside each collapsed: blank lines separate them; a text
    without blank lines is split into its lines."""
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n")
    parts = re.split(r"\n[ \t\f\v]*\n", text) if re.search(r"\n[ \t\f\v]*\n", text) else text.split("\n")
    return [" ".join(p.split()) for p in parts if p.strip()]


@dataclass
class Piece:
    """A run of words: ``same``, ``ins`` (added), ``del`` (removed) or ``fold`` (``count`` unchanged words)."""
    op: str
    text: str = ""
    count: int = 0


@dataclass
class Block:
    """One shown paragraph (``kind`` ``para``, with its section ``label``) or folded paragraphs (``fold``, ``count``)."""
    kind: str
    label: str | None = None
    pieces: list[Piece] = field(default_factory=list)
    count: int = 0
    note: str = ""


@dataclass
class TextDiff:
    blocks: list[Block]
    added_words: int
    removed_words: int
    sections: list[str]
    too_large: bool = False   # aligned as sets of paragraphs, or some ranges not word by word
    hidden: int = 0           # changed paragraphs not shown (past MAX_SHOWN_PARAGRAPHS)

    @property
    def identical(self) -> bool:
        return not self.added_words and not self.removed_words

    @property
    def summary(self) -> str:
        """One line: ``§ 50309(b) and (d) changed: +42 words, -7 words``."""
        if self.identical:
            return "no change in the text"
        counts = f"+{self.added_words} word{'s' if self.added_words != 1 else ''}, -{self.removed_words} word{'s' if self.removed_words != 1 else ''}"
        return f"{_name_units(self.sections)} changed: {counts}" if self.sections else f"text changed: {counts}"

    def html(self) -> Markup:
        """The diff as HTML: each block a ``<p>``; additions ``<ins>``, deletions ``<del>``, folds in ``<p class="diff-fold">``."""
        out = []
        for block in self.blocks:
            if block.kind == "fold":
                out.append(Markup('<p class="diff-fold">… {} …</p>').format(_unchanged(block.count, "paragraph")))
                continue
            label = Markup('<span class="diff-section">{}</span> ').format(block.label) if block.label else Markup("")
            note = Markup(' <span class="diff-note">({})</span>').format(block.note) if block.note else Markup("")
            out.append(Markup('<p class="diff-para">{}{}{}</p>').format(label, Markup("").join(_piece_html(p) for p in block.pieces), note))
        if self.hidden:
            out.append(Markup('<p class="diff-fold">… and {} more changed paragraphs, not shown …</p>').format(self.hidden))
        return Markup("\n").join(out)

    def text(self) -> str:
        """The diff as plain text, wdiff style."""
        lines = []
        for block in self.blocks:
            if block.kind == "fold":
                lines.append(f"… {_unchanged(block.count, 'paragraph')} …")
                continue
            body = " ".join(_piece_text(p) for p in block.pieces)
            lines.append((f"[{block.label}] " if block.label else "") + body + (f" ({block.note})" if block.note else ""))
        if self.hidden:
            lines.append(f"… and {self.hidden} more changed paragraphs, not shown …")
        return "\n\n".join(lines)


def _unchanged(count: int, unit: str) -> str:
    return f"{count} unchanged {unit}{'s' if count != 1 else ''}"


def _piece_html(piece: Piece) -> Markup:
    if piece.op == "fold":
        return Markup(' <span class="diff-fold">… {} …</span> ').format(_unchanged(piece.count, "word"))
    if piece.op == "same":
        return Markup("{} ").format(piece.text)
    return Markup('<{0} class="diff-{0}">{1}</{0}> ').format(piece.op, piece.text)


def _piece_text(piece: Piece) -> str:
    if piece.op == "fold":
        return f"… {_unchanged(piece.count, 'word')} …"
    return {"ins": "{+%s+}", "del": "[-%s-]"}.get(piece.op, "%s") % piece.text


def _name_units(labels: list[str]) -> str:
    """``["§ 50309(b)", "§ 50309(d)"]`` -> ``§ 50309(b) and (d)``: the shared section said once."""
    shown, more = labels[:SUMMARY_LABELS], len(labels) - SUMMARY_LABELS
    names, previous = [], None
    for label in shown:
        section = _section_of(label)
        names.append(label[len(section):] if section and section == previous and label != section else label)
        previous = section
    if more > 0:
        return ", ".join(names) + f" and {more} more"
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _section_of(label: str) -> str:
    match = re.match(r"^(?:§|Sec\.|Article|Title|Chapter) [^(\s]+", label)
    return match.group(0) if match else ""


def _shorten(words: list[str]) -> str:
    if len(words) <= MAX_PIECE_WORDS:
        return " ".join(words)
    return " ".join(words[:MAX_PIECE_WORDS]) + f" … ({len(words) - MAX_PIECE_WORDS} more words)"


class _Builder:
    """Accumulates the blocks of one diff within the display caps."""

    def __init__(self, old_labels, new_labels, old_short, new_short):
        self.blocks: list[Block] = []
        self.added = self.removed = self.shown = self.hidden = 0
        self.touched: dict[str, None] = {}
        self.labels = {"del": (old_labels, old_short), "ins": (new_labels, new_short)}
        self.budget = WORD_BUDGET
        self.too_large = False

    def touch(self, side: str, index: int) -> None:
        label = self.labels[side][1][index]
        if label:
            self.touched.setdefault(label, None)

    def add_block(self, block: Block) -> None:
        if block.kind == "para" and self.shown >= MAX_SHOWN_PARAGRAPHS:
            self.hidden += 1
            return
        if block.kind == "para":
            self.shown += 1
        if block.kind == "fold" and self.blocks and self.blocks[-1].kind == "fold":
            self.blocks[-1].count += block.count
            return
        self.blocks.append(block)

    def whole(self, side: str, paras: list[str], first: int, last: int, note: str = "") -> None:
        """Paragraphs ``first..last`` of one side, wholly removed (``del``) or added (``ins``)."""
        for i in range(first, last):
            words = paras[i].split()
            if side == "ins":
                self.added += len(words)
            else:
                self.removed += len(words)
            self.touch(side, i)
            self.add_block(Block("para", self.labels[side][0][i], [Piece(side, _shorten(words))], note=note))

    def same(self, paras: list[str], labels: list[str | None], first: int, last: int, context: int, lead: bool, tail: bool) -> None:
        """Unchanged paragraphs ``first..last``: ``context`` of them kept next to a change, the rest folded."""
        n = last - first
        if self.shown >= MAX_SHOWN_PARAGRAPHS:
            self.add_block(Block("fold", count=n))
            return
        keep_head = 0 if lead else context
        keep_tail = 0 if tail else context
        if n <= keep_head + keep_tail + 1:
            keep_head, keep_tail = n, 0
        for i in range(first, first + keep_head):
            self.blocks.append(Block("para", labels[i], [Piece("same", _shorten(paras[i].split()))]))
        folded = n - keep_head - keep_tail
        if folded > 0:
            self.add_block(Block("fold", count=folded))
        for i in range(last - keep_tail, last):
            self.blocks.append(Block("para", labels[i], [Piece("same", _shorten(paras[i].split()))]))

    def replace(self, old: list[str], new: list[str], i1: int, i2: int, j1: int, j2: int) -> None:
        """Changed paragraphs: word by word within the bounds, else removed then added."""
        size = sum(len(old[i].split()) for i in range(i1, i2)) + sum(len(new[j].split()) for j in range(j1, j2))
        if size > MAX_WORD_DIFF or size > self.budget:
            self.too_large = True
            self.whole("del", old, i1, i2, "too large to diff word by word")
            self.whole("ins", new, j1, j2, "too large to diff word by word")
            return
        self.budget -= size
        a, a_para = _tokens(old, i1, i2)
        b, b_para = _tokens(new, j1, j2)
        blocks: list[Block] = [Block("para", self.labels["ins"][0][j1] or self.labels["del"][0][i1])]
        for tag, a1, a2, b1, b2 in difflib.SequenceMatcher(None, a, b, autojunk=len(a) + len(b) > 2000).get_opcodes():
            if tag == "equal":
                _emit_same(blocks, a[a1:a2], a_para[a1:a2], self.labels["del"][0])
                continue
            if a2 > a1:
                self._emit_change(blocks, "del", a[a1:a2], a_para[a1:a2])
            if b2 > b1:
                self._emit_change(blocks, "ins", b[b1:b2], b_para[b1:b2])
        for block in blocks:
            if block.pieces:
                self.add_block(block)

    def _emit_change(self, blocks: list[Block], op: str, tokens: list[str], owners: list[int]) -> None:
        words: list[str] = []
        for token, owner in zip(tokens, owners):
            if token == BREAK:
                if words:
                    blocks[-1].pieces.append(Piece(op, _shorten(words)))
                    words = []
                if op == "ins":
                    blocks.append(Block("para", self.labels["ins"][0][owner]))
                continue
            words.append(token)
            self.touch(op, owner)
            if op == "ins":
                self.added += 1
            else:
                self.removed += 1
        if words:
            blocks[-1].pieces.append(Piece(op, _shorten(words)))


def _tokens(paras: list[str], first: int, last: int) -> tuple[list[str], list[int]]:
    """Words of paragraphs ``first..last`` with `BREAK` between paragraphs, and each token's paragraph."""
    tokens, owners = [], []
    for i in range(first, last):
        if i > first:
            tokens.append(BREAK)
            owners.append(i)
        words = paras[i].split()
        tokens.extend(words)
        owners.extend([i] * len(words))
    return tokens, owners


def _emit_same(blocks: list[Block], tokens: list[str], owners: list[int], labels: list[str | None]) -> None:
    """Unchanged words inside a changed range: paragraph breaks kept, long runs folded to their ends."""
    run: list[str] = []

    def flush(at_end: bool) -> None:
        if not run:
            return
        first = not any(p.op != "same" for p in blocks[-1].pieces) and not blocks[-1].pieces
        if len(run) > 2 * CONTEXT_WORDS + 3:
            head = [] if first else run[:CONTEXT_WORDS]
            tail = [] if at_end else run[-CONTEXT_WORDS:]
            if head:
                blocks[-1].pieces.append(Piece("same", " ".join(head)))
            blocks[-1].pieces.append(Piece("fold", count=len(run) - len(head) - len(tail)))
            if tail:
                blocks[-1].pieces.append(Piece("same", " ".join(tail)))
        else:
            blocks[-1].pieces.append(Piece("same", " ".join(run)))
        run.clear()

    for token, owner in zip(tokens, owners):
        if token == BREAK:
            flush(True)
            blocks.append(Block("para", labels[owner]))
            continue
        run.append(token)
    flush(False)


def diff_texts(old: str, new: str, context: int = 1) -> TextDiff:
    """The readable diff from ``old`` to ``new`` (see the module's docstring); ``context`` unchanged
    paragraphs are kept around each change."""
    a, b = paragraphs(old), paragraphs(new)
    a_full, a_short = _labels(a)
    b_full, b_short = _labels(b)
    build = _Builder(a_full, b_full, a_short, b_short)
    head = 0
    while head < min(len(a), len(b)) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < min(len(a), len(b)) - head and a[len(a) - 1 - tail] == b[len(b) - 1 - tail]:
        tail += 1
    a_mid, b_mid = (head, len(a) - tail), (head, len(b) - tail)
    if head:
        build.same(a, a_full, 0, head, context, lead=True, tail=a_mid[0] == a_mid[1] and b_mid[0] == b_mid[1])
    if max(a_mid[1] - a_mid[0], b_mid[1] - b_mid[0]) > MAX_ALIGN_PARAGRAPHS:
        _as_sets(build, a, b, a_mid, b_mid)
    else:
        matcher = difflib.SequenceMatcher(None, a[a_mid[0]:a_mid[1]], b[b_mid[0]:b_mid[1]], autojunk=False)
        ops = matcher.get_opcodes()
        for n, (tag, i1, i2, j1, j2) in enumerate(ops):
            i1, i2, j1, j2 = i1 + head, i2 + head, j1 + head, j2 + head
            if tag == "equal":
                build.same(a, a_full, i1, i2, context, lead=False, tail=False)
            elif tag == "delete":
                build.whole("del", a, i1, i2)
            elif tag == "insert":
                build.whole("ins", b, j1, j2)
            else:
                build.replace(a, b, i1, i2, j1, j2)
    if tail:
        build.same(a, a_full, len(a) - tail, len(a), context, lead=False, tail=True)
    return TextDiff(build.blocks, build.added, build.removed, list(build.touched), build.too_large, build.hidden)


def _as_sets(build: _Builder, a: list[str], b: list[str], a_mid: tuple[int, int], b_mid: tuple[int, int]) -> None:
    """Too many paragraphs to align: those of the old text not in the new one are removed, those of the
    new text not in the old one added (compared as multisets; order not diffed)."""
    build.too_large = True
    old_counts = Counter(a[a_mid[0]:a_mid[1]])
    new_counts = Counter(b[b_mid[0]:b_mid[1]])
    removed, added = old_counts - new_counts, new_counts - old_counts
    note = "too large to align paragraph by paragraph"
    for side, paras, (first, last), extra in (("del", a, a_mid, removed), ("ins", b, b_mid, added)):
        left = Counter(extra)
        for i in range(first, last):
            if left[paras[i]] > 0:
                left[paras[i]] -= 1
                build.whole(side, paras, i, i + 1, note)
