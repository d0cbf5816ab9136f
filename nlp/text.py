"""Text normalisation that keeps offsets into the original text.

A document is cut into paragraphs at blank lines. Inside a paragraph every whitespace run that is
not a single space becomes one space, and a line-break hyphen between two lower-case letters
("logis-" + newline + "tics") or a pinyin gloss inside Chinese text ("運(yùn)輸") disappears, so
that names broken across lines or glossed still match. Each paragraph keeps a piecewise-linear
map from its normalised positions back to positions in the original text.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n\s*")
# What normalisation replaces: a line-break hyphen between lower-case letters and a pinyin gloss
# after a Chinese character ("運(yùn)輸", seen in scraped pages) are deleted; every whitespace run
# other than a single space becomes one space. (Each alternative starts with a literal or a class.)
_ODD_SPACE = re.compile(r"-(?<=[a-z]-)[^\S\n]*\n\s*(?=[a-z])|\((?<=[\u4e00-\u9fff]\()[a-z\u00e0-\u01dc]{1,7}\)"
                        r"|[^\S ]\s*| \s+")
_MAYBE_HYPHEN_BREAK = re.compile(r"-[^\S\n]*\n")
_MAYBE_GLOSS = re.compile(r"[\u4e00-\u9fff]\([a-z\u00e0-\u01dc]")
# The one definition of the CJK script ranges (kana, CJK ideographs with Extension A and the
# compatibility block, Hangul) and CJK punctuation / full-width forms, as regex class bodies. Text in
# these scripts is tokenized one character per token, and stance cue stems in them match anywhere
# (nlp.stance_features); the stance word n-grams split only UNSPACED scripts into characters (Korean
# separates words with spaces). crawler/dedup.py keeps its own copy: crawler does not import nlp.
KANA = "\u3040-\u30ff"
HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
HANGUL = "\u1100-\u11ff\u3130-\u318f\uac00-\ud7af"
UNSPACED = f"{KANA}{HAN}"  # scripts written without spaces between words
CJK_CHARS = f"{KANA}{HAN}{HANGUL}"
CJK_PUNCT = "\u3000-\u303f\uff00-\uffef"
_CJK = re.compile(f"[{CJK_CHARS}]")
_WIDE = re.compile(f"[{CJK_CHARS}{CJK_PUNCT}]")
_KANA = re.compile(f"[{KANA}]")
_HANGUL = re.compile(f"[{HANGUL}]")
_LATIN = re.compile("[A-Za-z\u00c0-\u024f]")


@dataclass
class Block:
    """One normalised paragraph: ``text``, made from ``original[start:end]``."""

    text: str
    original: str
    start: int
    end: int
    _points: tuple[list[int], list[int]] | None = None

    def to_original(self, pos: int) -> int:
        """Original offset of the character at normalised position ``pos``."""
        if self._points is None:
            self._points = self._map()
        norm, orig = self._points
        k = bisect_right(norm, pos) - 1
        return orig[k] + pos - norm[k]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original ``(start, end)`` of the normalised span ``[start, end)`` (``end > start``)."""
        return self.to_original(start), self.to_original(end - 1) + 1

    def _map(self) -> tuple[list[int], list[int]]:
        """Breakpoints (normalised position, original position); built only when a mention needs them."""
        norm, orig = [0], [self.start]
        shift = 0  # normalised length minus original length so far
        for m in _ODD_SPACE.finditer(self.original, self.start, self.end):
            shift += len(_collapse(m)) - (m.end() - m.start())
            norm.append(m.end() - self.start + shift)
            orig.append(m.end())
        return norm, orig


def _collapse(match: re.Match) -> str:
    return "" if match.group()[0] in "-(" else " "


def paragraphs(text: str) -> list[Block]:
    """Normalised, non-empty paragraphs of ``text`` in order."""
    blocks = []
    pos = 0
    for m in [*_PARAGRAPH_BREAK.finditer(text), None]:
        stop = m.start() if m else len(text)
        chunk = text[pos:stop]
        start = pos + len(chunk) - len(chunk.lstrip())
        stop -= len(chunk) - len(chunk.rstrip())
        if stop > start:
            para = text[start:stop]
            deletion = ("-" in para and _MAYBE_HYPHEN_BREAK.search(para)) or ("(" in para and _MAYBE_GLOSS.search(para))
            norm = _ODD_SPACE.sub(_collapse, para) if deletion else " ".join(para.split())
            blocks.append(Block(norm, text, start, stop))
        if m:
            pos = m.end()
    return blocks


def has_cjk(text: str) -> bool:
    """True when ``text`` contains a Chinese or Japanese character."""
    return _CJK.search(text) is not None


def has_wide(text: str) -> bool:
    """True when ``text`` contains a CJK character, CJK punctuation or a full-width form ("ＬＯＧＩＮＫ")."""
    return _WIDE.search(text) is not None


def cjk_language(text: str) -> str | None:
    """The CJK language of ``text`` when CJK characters outnumber Latin letters: "ko" when Hangul is at
    least half of them, "ja" with kana, else "zh"."""
    cjk = len(_CJK.findall(text))
    if not cjk or cjk < len(_LATIN.findall(text)):
        return None
    if len(_HANGUL.findall(text)) * 2 >= cjk:
        return "ko"
    return "ja" if len(_KANA.findall(text)) * 10 >= cjk else "zh"


# Traditional (and Japanese shinjitai) -> simplified forms of the characters that occur in names of
# ports, agencies, companies and platforms. Matching folds both the patterns and the text with it,
# so mixed spellings match ("国家交通運輸物流公共信息平台" in Japanese text, "臺/台" in Taiwanese
# text). Folding is one-way and only has to be consistent: an incomplete table costs recall, never
# offsets.
_FOLD_FROM = ("國運輸臺網絡東亞務資訊華遠廣門島灣區縣廳會議員經濟審為興鐵聯關稅總處辦據數庫統歐發兩陸線號車龍碼頭貨櫃裝險"
              "風應態術證監測軍黨長陽萬寧蘭廈漢鹽連寶條約權際協報體產業劃邊對貿進銷開營隊紀錄雲電機場達維護衛館廠倉儲"
              "標準實驗檢驗規範與於來時後間傳團圖營轉變覽權歷濱臨閩淅灣鎮劉黃鄭陳張楊趙吳周孫馬羅蘇葉鐘盧謝"
              "亜経済関鉄総発処県広変検証険転伝団図浜楽売読辺沢構設計義專將從鏈環遞郵")
_FOLD_TO = ("国运输台网络东亚务资讯华远广门岛湾区县厅会议员经济审为兴铁联关税总处办据数库统欧发两陆线号车龙码头货柜装险"
            "风应态术证监测军党长阳万宁兰厦汉盐连宝条约权际协报体产业划边对贸进销开营队纪录云电机场达维护卫馆厂仓储"
            "标准实验检验规范与于来时后间传团图营转变览权历滨临闽淅湾镇刘黄郑陈张杨赵吴周孙马罗苏叶钟卢谢"
            "亚经济关铁总发处县广变检证险转传团图滨乐卖读边泽构设计义专将从链环递邮")
CJK_FOLD = str.maketrans(_FOLD_FROM, _FOLD_TO)


def fold_cjk(text: str) -> str:
    """``text`` with traditional / shinjitai characters replaced by simplified ones (same length)."""
    return text.translate(CJK_FOLD)
