"""Target-independent features of a stance window: masking, cue lexicons, negation, questions.

A window (see :func:`nlp.stance.make_window`) is the mention's sentence with the mention replaced
by ``[TGT]``. The model
must learn *framing*, not target names (the corpus it learns from is about Huawei, COSCO, ZPMC
...; the text it is used on is about LOGINK), so:

- :func:`sentence_text` is the vectorizers' preprocessor: it lower-cases the window and replaces the names of watched entities (``ENTITY_NAMES``) by
  ``[ent]``, so no target name can become a stance cue;
- :class:`CueFeatures` counts language-specific cue words by category (threat/control framing,
  restriction, praise, defence against criticism, distancing, reporting), once in the sentence,
  once near the target and once under negation (a negator shortly before the cue), plus
  question and headline shape. The lexicons are stems matched at word starts (alphabetic
  scripts) or substrings (Chinese, Japanese, Korean).
"""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin

from nlp.text import has_wide

MARK = "[tgt]"

# Names of watched entities (the corpus targets and LOGINK's own names): masked as "[ent]".
ENTITY_NAMES = (
    "huawei", "zte", "zpmc", "cosco", "nuctech", "hikvision", "dahua", "dji", "hesai", "quectel", "cainiao",
    "alibaba", "tiktok", "bytedance", "china merchants port", "china merchants", "hutchison", "china telecom",
    "china mobile", "china unicom", "tradelens", "portbase", "dakosy", "soget", "portic", "logink", "neal-net",
    "cargosmart", "chancay", "gwadar", "hambantota", "piraeus", "cophc",
    "华为", "華為", "中兴", "中興", "振华", "振華", "中远", "中遠", "同方威视", "同方威視", "海康", "大华", "大疆",
    "禾赛", "移远", "菜鸟", "菜鳥", "阿里巴巴", "招商局", "和记", "和記", "中国电信", "中國電信",
    "ファーウェイ", "華為技術", "ＺＴＥ", "中興通訊", "コスコ", "ジーピーエムシー", "大疆", "ハイクビジョン", "アリババ",
    "화웨이", "중싱", "코스코", "하이크비전", "알리바바", "틱톡",
    "物流公共信息平台", "物流信息平台", "logink",
)
_ENTITY_RE = re.compile("|".join(re.escape(n) for n in sorted(ENTITY_NAMES, key=len, reverse=True)))


def sentence_text(window: str) -> str:
    """The window lower-cased, watched-entity names masked as ``[ent]`` (a preprocessor)."""
    return _ENTITY_RE.sub("[ent]", window.lower())


# --------------------------------------------------------------------------- lexicons
# Stems per category; alphabetic ones match at a word start, CJK ones anywhere.

CUES: dict[str, tuple[str, ...]] = {
    "threat": (
        # generic additions (2026-12)
        "trojan horse", "cheval de troie", "caballo de troya", "paard van troje", "cavallo di troia", "trojanisch",
        "einfallstor", "ausspäh", "abhör", "bedenken", "einflussnahme", "kritische infrastruktur", "naiv",
        "espion", "écoute", "sécurité nationale", "seguridad nacional", "doble uso", "uso militar", "soberanía",
        "spion", "nationale veiligheid", "spia", "spiare", "sicurezza nazionale", "timori",
        "国家安全", "情报", "情報", "军事", "軍事", "泄露", "窃密", "竊密", "操控", "远程控制", "遠程控制", "木马", "木馬",
        "トロイの木馬", "軍事利用", "軍民両用", "不信", "信頼性の低い", "트로이 목마", "군사",
        # en
        "threat", "risk", "danger", "espionage", "spy", "spie", "surveil", "backdoor", "back door", "vulnerab",
        "malicious", "trojan", "sabotag", "hack", "exploit", "leverage", "coerc", "weaponi", "kill switch",
        "exfiltrat", "harvest", "siphon", "intrusi", "compromis", "insecur", "unauthori", "covert", "hidden",
        "concern", "worr", "fear", "alarm", "warn", "suspic", "untrust", "dependen", "reliance", "trap", "grip",
        "stranglehold", "chokehold", "control over", "foothold", "infiltrat", "influence", "military", "intelligence",
        "national security", "security hole", "debt",
        # de
        "bedroh", "gefahr", "gefähr", "risiko", "risiken", "spionage", "überwach", "hintertür", "sicherheitsbedenk",
        "sicherheitslück", "sorge", "besorg", "befürcht", "warn", "abhängig", "einfluss", "kontrolle", "falle",
        "zugriff", "manipul", "sabotage", "misstrau", "unsicher",
        # fr
        "menace", "risque", "danger", "espionn", "surveill", "porte dérobée", "vulnérab", "inquiét", "crainte",
        "craign", "alert", "dépendan", "piège", "emprise", "contrôle", "ingérence", "sabotage", "méfian",
        # es
        "amenaza", "riesgo", "peligr", "espionaje", "espía", "vigilancia", "puerta trasera", "vulnerab",
        "preocupa", "temor", "alarma", "advierte", "advirt", "dependencia", "trampa", "control", "injerencia",
        "desconfian", "sospech",
        # nl
        "bedreig", "dreig", "gevaar", "risico", "spionage", "bespie", "achterdeur", "kwetsba", "zorgen", "bezorgd",
        "vrees", "angst", "waarschuw", "afhankelijk", "invloed", "controle", "greep", "wantrouw",
        # it
        "minacci", "rischi", "pericol", "spionaggio", "sorveglian", "vulnerab", "preoccup", "timor", "allarm",
        "dipendenz", "trappola", "controllo", "ingerenz", "sospett",
        # zh
        "威胁", "威脅", "风险", "風險", "危险", "危險", "间谍", "間諜", "监控", "監控", "监视", "監視", "后门", "後門",
        "漏洞", "隐患", "隱患", "担忧", "擔憂", "担心", "擔心", "警告", "警惕", "依赖", "依賴", "陷阱", "控制",
        "窃取", "竊取", "渗透", "滲透", "安全问题", "安全問題",
        # ja
        "脅威", "リスク", "危険", "スパイ", "監視", "バックドア", "脆弱", "懸念", "警戒", "警告", "不安", "依存",
        "罠", "支配", "情報漏", "漏えい", "漏洩", "安全保障上",
        # ko
        "위협", "위험", "리스크", "간첩", "스파이", "감시", "백도어", "취약", "우려", "경고", "의존", "함정", "통제",
        "유출", "안보",
    ),
    "restrict": (
        # generic additions (2026-12)
        "verbann", "verban", "aussperr", "untersagung", "begrenz", "auflage", "prüfverfahren",
        "golden power", "bloccare", "blocca", "esclusion", "impedit", "prescrizion",
        "黑名单", "黑名單", "禁令", "封锁", "封鎖", "放弃", "放棄", "不再使用", "审视", "審視",
        "締め出し", "禁止令", "전수조사", "금지령",
        "ban", "prohibit", "bar ", "barred", "barring", "bars ", "exclud", "restrict", "block", "sanction",
        "blacklist", "entity list", "phase out", "phased out", "rip and replace", "remov", "replac", "forbid",
        "shall not", "may not", "must not", "ineligib", "terminat", "divest", "curb", "crack down", "crackdown",
        "scrutin", "investigat", "probe", "review", "tariff", "reject",
        "verbot", "verbiet", "untersag", "ausschl", "ausgeschlossen", "beschränk", "sanktion", "ersetz", "entfern",
        "prüf", "stopp", "zurückdräng",
        "interdi", "exclu", "restrei", "sanction", "bannir", "écart", "remplac", "retir", "enquête", "limiter",
        "prohib", "exclu", "restring", "sancion", "veto", "vetar", "vetad", "retira", "sustitu", "investiga", "limita",
        "verbod", "verbied", "uitsluit", "uitgesloten", "beperk", "sanctie", "weren", "vervang", "verwijder",
        "onderzoek",
        "divieto", "vieta", "vietat", "escluder", "esclus", "restrizion", "limitare", "sostitu", "rimuov",
        "禁止", "禁用", "排除", "限制", "制裁", "封杀", "封殺", "打压", "打壓", "实体清单", "實體清單", "拆除", "替换", "替換",
        "调查", "調查", "审查", "審查",
        "禁止", "排除", "規制", "制裁", "締め出", "除外", "撤去", "置き換", "調達禁止", "審査",
        "금지", "배제", "제한", "제재", "퇴출", "교체", "조사",
    ),
    "praise": (
        # generic additions (2026-12)
        "valore aggiunto", "posti di lavoro", "crescita", "emplois", "empleo", "arbeitsplätze", "banen",
        "明珠", "生机", "生機", "互联互通", "互聯互通", "惠及", "便捷", "好评", "好評", "感谢", "感謝",
        "活性化", "効率", "雇用", "일자리", "활성화",
        "efficien", "improv", "boost", "benefit", "success", "win-win", "mutual", "cooperat", "partnership",
        "growth", "opportunit", "moderni", "innovat", "leading", "advanced", "reliab", "trusted", "praise",
        "welcom", "celebrat", "milestone", "record", "award", "contribut", "facilitat", "prosper", "friendship",
        "excellen", "outstanding", "world-class", "cutting-edge", "state-of-the-art", "smart", "green",
        "sustainab", "seamless", "transparen", "open to", "secure and", "proud", "thrilled", "pleased", "delighted",
        "hub", "gateway", "connectivity", "strengthen", "enhanc", "faster", "cheaper", "lower cost", "reduce cost",
        "effizien", "verbesser", "vorteil", "erfolg", "partnerschaft", "wachstum", "chance", "moderne", "innovati",
        "führend", "zuverlässig", "stolz", "freu", "beschleunig", "stärk", "nachhaltig",
        "efficac", "amélior", "avantage", "succès", "réussi", "partenariat", "croissance", "opportunité",
        "innov", "fiable", "fier", "ravi", "renforc", "accélér", "durable",
        "eficien", "mejora", "beneficio", "éxito", "exitos", "asociación", "crecimiento", "oportunidad", "innova",
        "confiab", "orgullo", "fortalec", "impulsa", "desarrollo", "sostenib", "moderno", "moderniz",
        "efficiënt", "verbeter", "voordel", "succes", "samenwerk", "groei", "kans", "innovat", "betrouwba", "trots",
        "versterk", "duurzaam",
        "efficien", "miglior", "vantagg", "successo", "partenariato", "crescita", "opportunità", "innovaz",
        "affidab", "orgoglio", "rafforz", "sviluppo", "sostenib",
        "效率", "高效", "提升", "提高", "促进", "促進", "合作", "共赢", "共贏", "互利", "发展", "發展", "繁荣", "繁榮",
        "成功", "成效", "先进", "先進", "领先", "領先", "创新", "創新", "便利", "助力", "赋能", "賦能", "贡献", "貢獻",
        "友谊", "友誼", "桥梁", "橋樑", "典范", "典範", "标杆", "標杆", "高质量", "高質量", "智慧", "绿色", "綠色",
        "效率化", "向上", "促進", "協力", "発展", "成功", "先進", "革新", "貢献", "期待", "利便", "円滑", "強化",
        "효율", "향상", "협력", "발전", "성공", "혁신", "기여", "상생", "강화", "편리",
    ),
    "defend": (
        # generic additions (2026-12)
        "无稽之谈", "無稽之談", "草木皆兵", "误导", "誤導", "工具化", "武器化", "干预", "干預", "泛化",
        "rumeur", "rumor", "gerücht", "hysteri", "hegemon", "bully", "witch hunt", "xenophob",
        "事実に反する", "成り立たない", "中傷", "부도덕", "근거없",
        "so-called", "smear", "hype", "groundless", "baseless", "unfounded", "politici", "discriminat", "stigmati",
        "abuse of state power", "abusing state power", "suppress", "unreasonabl", "fabricat", "slander", "pretext",
        "no evidence", "protectionis", "double standard", "cold war mentality", "overstretch", "generalis",
        "generaliz", "scapegoat", "unfair", "unjust",
        "sogenannt", "haltlos", "unbegründet", "diskrimin", "vorwand", "protektion", "kein beweis", "keine beweise",
        "prétendu", "soi-disant", "sans fondement", "infondé", "discrimin", "prétexte", "aucune preuve",
        "supuest", "llamad", "infundad", "sin fundamento", "discrimina", "pretexto", "ninguna prueba", "sin pruebas",
        "zogenaamd", "ongegrond", "discrimin", "voorwendsel", "geen bewijs",
        "cosiddett", "infondat", "discrimin", "pretest", "nessuna prova",
        "所谓", "所謂", "抹黑", "污蔑", "诬蔑", "誣蔑", "炒作", "毫无根据", "毫無根據", "无端", "無端", "政治化", "泛化",
        "歧视", "歧視", "打压", "打壓", "滥用国家力量", "濫用國家力量", "子虚乌有", "借口", "冷战思维", "冷戰思維",
        "双重标准", "雙重標準", "坚决反对", "堅決反對",
        "いわゆる", "根拠のない", "根拠がない", "差別", "政治化", "口実",
        "이른바", "소위", "근거 없", "차별", "정치화", "구실", "억압",
    ),
    "distance": (
        "claim", "insist", "alleg", "purported", "maintain", "contend",
        "behaupt", "angeblich", "beteuer", "vermeintlich",
        "affirm", "prétend", "assure", "soutient", "prétendu",
        "asegur", "sostien", "afirma", "presunt",
        "beweert", "beweren", "zogenaamd", "vermeend",
        "sostien", "afferm", "presunt",
        "声称", "聲稱", "宣称", "宣稱", "辩称", "辯稱", "坚称", "堅稱", "指责", "指責", "鼓吹", "渲染",
        "主張", "と称", "とされる",
        "주장",
    ),
    # a denial or rebuttal of an accusation (the target's or its defenders')
    "deny": (
        "deny", "denies", "denied", "denial", "refut", "rebut", "dismiss", "reject", "debunk", "contest",
        "bestreit", "bestritt", "abgestritten", "abstreit", "weist zurück", "wies zurück", "zurückgewiesen",
        "dementi", "widersproch", "widerspr",
        "dément", "démenti", "nie ", "nient", "rejette", "réfute", "conteste",
        "niega", "negó", "niegan", "rechaz", "desmient", "refuta",
        "ontkent", "ontkende", "ontkennen", "spreekt dit tegen", "spreken dit tegen", "weerleg", "verwerp",
        "nega ", "negano", "smentisc", "respinge", "confuta",
        "否认", "否認", "驳斥", "駁斥", "反驳", "反駁", "澄清", "回应", "回應", "不实", "不實",
        "否定", "反論", "事実無根", "否認", "反発",
        "부인", "반박", "반발", "일축",
    ),
    # the author's rebuttal of what it relays (GUIDELINE rule 3: "an account officials reject")
    "rebut": (
        "a claim", "an account", "a characteri", "an assertion", "sits uneasily", "at odds with", "contradict",
        "belie", "not convinced", "unconvinced", "despite assurances", "despite its assurances", "skeptic",
        "sceptic", "doubt",
        "zweifel", "widerleg", "nicht überzeugt", "im widerspruch", "skeptisch",
        "doute", "contredi", "pas convaincu", "sceptique",
        "duda", "contradic", "no convence", "escéptic",
        "twijfel", "niet overtuigd", "in tegenspraak", "sceptisch",
        "dubbi", "contraddi", "scettic",
        "质疑", "質疑", "令人怀疑", "站不住脚", "站不住腳", "自相矛盾",
        "疑問", "矛盾", "疑わしい",
        "의문", "모순",
    ),
    "accuse": (
        "accus", "allegation", "suspicion", "suspect", "charge", "smear",
        "vorwurf", "vorwürfe", "beschuldig", "verdacht", "verdächtig",
        "accusation", "accusé", "soupçon",
        "acusa", "acusación", "sospech",
        "beschuldig", "verdenk", "aantijging",
        "accusa", "sospett",
        "指控", "指责", "指責", "怀疑", "懷疑", "嫌疑", "污蔑", "抹黑",
        "疑惑", "疑い", "批判", "非難",
        "의혹", "의심", "비난",
    ),
    "report": (
        "said", "says", "according to", "stated", "told", "reported", "announc", "noted", "added",
        "sagte", "erklärt", "laut", "zufolge", "teilte mit", "berichtet",
        "a déclaré", "a dit", "selon", "a indiqué", "a annoncé", "explique",
        "dijo", "declaró", "según", "señaló", "indicó", "anunció",
        "zei", "zegt", "volgens", "meldde", "verklaarde",
        "ha detto", "secondo", "ha dichiarato", "ha affermato",
        "表示", "称", "稱", "据", "據", "指出", "宣布",
        "によると", "と述べ", "と語", "と発表", "とした",
        "밝혔", "말했", "따르면", "발표",
    ),
    "negation": (
        "not", "no", "never", "without", "neither", "nor", "none", "n't", "cannot", "nothing", "nobody",
        "nicht", "kein", "nie", "ohne", "weder", "ne ", "pas", "jamais", "aucun", "sans", "ni ",
        "no ", "nunca", "sin", "ningún", "ninguna", "niet", "geen", "nooit", "zonder", "non", "mai", "senza",
        "nessun", "不", "没有", "沒有", "未", "无", "無", "非", "ない", "ず", "ません", "않", "없", "아니", "못",
    ),
}

_WINDOW = 60  # characters on each side of [tgt] that count as "near the target"
_NEG_REACH = 25  # characters before a cue where a negator flips it


def _trie(words: list[str]) -> str:
    """A regex alternation of ``words`` shaped as a prefix tree (far fewer backtracks than a flat
    list of hundreds of alternatives); the longest word wins at a position."""
    tree: dict = {}
    for word in words:
        node = tree
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict) -> str:
        ends = "" in node
        branches = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if ends else body

    return emit(tree)


# German and Dutch put the head of a compound last (Sicherheitsrisiko, Spionageverdacht,
# gebruiksverbod): these stems also count inside a word.
COMPOUND_HEADS: dict[str, tuple[str, ...]] = {
    "threat": ("risiko", "risiken", "gefahr", "gefähr", "bedrohung", "bedenken", "spionage", "überwachung",
               "misstrauen", "abhängigkeit", "risico", "gevaar", "dreiging", "bedreiging", "afhankelijkheid"),
    "restrict": ("verbot", "verbann", "untersagung", "sanktion", "ausschluss", "beschränkung", "verbod",
                 "uitsluiting", "beperking", "sanctie"),
    "accuse": ("verdacht", "vorwurf", "vorwürfe", "verdenking", "beschuldiging"),
}


def _compile(stems: tuple[str, ...], whole_words: bool = False, infix: tuple[str, ...] = ()) -> re.Pattern:
    """One pattern for a category: alphabetic stems at a word start (``whole_words``: whole
    words only), ``infix`` stems and CJK stems anywhere."""
    cjk = sorted({s for s in stems if has_wide(s)} | set(infix))
    alpha = sorted({s for s in stems if not has_wide(s)} - {"n't"})
    end = r"(?![^\W\d_])" if whole_words else ""
    parts = [r"(?<![^\W\d_])" + _trie(alpha) + end] if alpha else []
    if "n't" in stems:
        parts.append(r"n't")
    if cjk:
        parts.append(_trie(cjk))
    return re.compile("|".join(parts))


# One prefix-tree pattern per category (the categories overlap: a word may count in several);
# negators match whole words only.
_CATEGORIES = {name: i for i, name in enumerate(CUES)}
_PATTERNS = [(_CATEGORIES[name], _compile(stems, name == "negation", COMPOUND_HEADS.get(name, ())))
             for name, stems in CUES.items()]
_NEGATION = _PATTERNS[_CATEGORIES["negation"]][1]
_POLAR = ("threat", "restrict", "praise", "defend")
# Cue pairs a linear model cannot combine itself: relayed / distanced / questioned / negated framing.
_PAIRS = (("threat", "report"), ("threat", "distance"), ("praise", "report"), ("praise", "distance"),
          ("defend", "report"), ("restrict", "report"), ("threat", "question"), ("restrict", "question"),
          ("threat", "negation"), ("praise", "negation"), ("accuse", "deny"), ("threat", "deny"),
          ("restrict", "deny"), ("deny", "distance"), ("praise", "rebut"), ("defend", "rebut"),
          ("distance", "rebut"))
FEATURE_NAMES: list[str] = (
    [f"{c}:sent" for c in CUES] + [f"{c}:near" for c in _POLAR] + [f"{c}:negated" for c in _POLAR]
    + ["question", "headline", "quote", "target_first"]
    + [f"{a}*{b}" for a, b in _PAIRS]
)


def _cue_counts(window: str) -> list[int]:
    """Raw counts of one window, in ``FEATURE_NAMES`` order."""
    sent = sentence_text(window)
    mark = sent.find(MARK)
    neg_ends = [m.end() for m in _NEGATION.finditer(sent)]
    n = len(CUES)
    counts, near, negated = [0] * n, [0] * n, [0] * n
    for cat, pattern in _PATTERNS:
        for m in pattern.finditer(sent):
            start = m.start()
            counts[cat] += 1
            near[cat] += mark >= 0 and abs(start - mark) <= _WINDOW
            negated[cat] += any(0 <= start - e <= _NEG_REACH for e in neg_ends)
    stripped = sent.rstrip()
    question = int("?" in sent or "？" in sent)
    polar = [_CATEGORIES[c] for c in _POLAR]
    by_name = {c: counts[i] for c, i in _CATEGORIES.items()}
    by_name["question"] = question
    return (counts + [near[i] for i in polar] + [negated[i] for i in polar]
            + [question, int(bool(stripped) and stripped[-1] not in ".。!！?？\"'”’»)"),
               int(bool(_QUOTES.search(sent))), int(0 <= mark <= 3)]
            + [min(by_name[x], by_name[y]) for x, y in _PAIRS])


_QUOTES = re.compile(r"[\"“”«»「」『』]")


def cue_vector(window: str) -> list[float]:
    """The dense cue features of one window (``log1p`` of the counts; names in ``FEATURE_NAMES``)."""
    return np.log1p(np.asarray(_cue_counts(window), dtype=np.float64)).tolist()


class CueFeatures(BaseEstimator, TransformerMixin):
    """Sparse matrix of :func:`cue_vector` rows, times ``weight`` (a FeatureUnion block)."""

    def __init__(self, weight: float = 1.0) -> None:
        self.weight = weight

    def fit(self, windows: list[str], y=None) -> CueFeatures:
        """Stateless: nothing to learn."""
        return self

    def transform(self, windows: list[str]) -> sparse.csr_matrix:
        """One row of cue features per window."""
        counts = np.asarray([_cue_counts(w) for w in windows], dtype=np.float64).reshape(len(windows), len(FEATURE_NAMES))
        return sparse.csr_matrix(np.log1p(counts) * self.weight)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """The feature names, for inspection."""
        return np.asarray(FEATURE_NAMES, dtype=object)



# --------------------------------------------------------------------------- negation scope

NEGATORS = (
    "not", "no", "never", "without", "nor", "neither", "none", "cannot", "nothing", "nobody", "nowhere",
    "nicht", "kein", "keine", "keinen", "keinem", "keiner", "keines", "nie", "niemals", "ohne", "weder",
    "pas", "jamais", "aucun", "aucune", "sans", "ni", "nullement",
    "nunca", "sin", "ningún", "ninguna", "ninguno", "tampoco",
    "niet", "geen", "nooit", "zonder", "noch",
    "non", "mai", "senza", "nessun", "nessuna", "nessuno",
)
_NEG_CJK = ("没有", "沒有", "并非", "並非", "从未", "從未", "毫无", "毫無", "不", "未", "无", "無", "非")
_NEG_WORD = re.compile(r"(?<![^\W\d_])(?:" + "|".join(sorted(NEGATORS, key=len, reverse=True)) + r")(?![^\W\d_])|n't")
_NEG_CJK_RE = re.compile("|".join(_NEG_CJK))
_SCOPE_END = re.compile(r"[.,;:!?()\"“”«»。，、；：！？]")
NEG_SCOPE = 3  # words (alphabetic scripts) or characters (Chinese) after a negator marked "neg_"


def _mark_scope(text: str) -> str:
    out, i = [], 0
    for m in _NEG_WORD.finditer(text):
        if m.start() < i:
            continue
        out.append(text[i : m.end()])
        i, left = m.end(), NEG_SCOPE
        while left:
            word = re.match(r"(\s*)([^\W\d_][\w'-]*|\[tgt\]|\[ent\])", text[i:])
            if not word or _SCOPE_END.search(text[i : i + len(word.group(1))]):
                break
            out.append(word.group(1) + "neg_" + word.group(2))
            i, left = i + word.end(), left - 1
    out.append(text[i:])
    text = "".join(out)
    return _NEG_CJK_RE.sub(lambda m: m.group(0) + "¬", text)


def negation_text(window: str) -> str:
    """:func:`sentence_text` with negation scope marked: the words after a negator get a
    ``neg_`` prefix (``no evidence`` -> ``no neg_evidence``), a Chinese negator a ``¬`` mark
    that the word tokenizer joins to the next character; so "threat" and "no threat" are
    different features. Japanese and Korean negate after the verb and are left as they are."""
    return _mark_scope(sentence_text(window))


# Part of the model version (nlp.stance.model_version): a lexicon edit makes a new model.
LEXICON_FINGERPRINT = hashlib.sha256(json.dumps([CUES, COMPOUND_HEADS, NEGATORS, _NEG_CJK, ENTITY_NAMES, NEG_SCOPE, _WINDOW,
                                                 _NEG_REACH, _PAIRS], ensure_ascii=False).encode()).hexdigest()[:12]
