"""The subscription model: the digest schedule grammar, subscribers, stance thresholds, and the typed
``[digest]`` section. Imports nothing else of ``tracker`` (configuration, digest, tick and mailer all
import it), and holds no defaults of its own: they are in ``tracker/defaults.toml``, merged under the
user's file before `parse_digest` sees the section.

Schedules: ``mon 07:00``, ``mon,thu 07:00``, ``daily 07:00`` (``*`` is daily), in ``[digest] timezone``;
a subscriber may have its own ``schedule`` (or ``"never"``: feed-only, never e-mailed) and ``timezone``.
Followed items (``dossiers``, ``entities``, ``searches``) are checked here, without the database:
an entity id must be one of the gazetteer's (loaded only when some subscriber follows an entity), a
dossier id must be a well-formed key of a known kind (``us-bill:118-hr-1724``,
``ep-procedure:2023/2059(INI)``), a search must parse (`db.search.match_expression`). Once the
database exists, `tracker.config` also refuses a dossier that is neither stored nor configured for a
source to crawl (congress-gov ``bills``, ep-oeil ``procedures``); a configured one not crawled yet is
reported by ``tracker digest subscribers`` until it appears.
Stance thresholds (``min_stance``): ``any`` / ``neutral`` (everything), ``opinionated`` (critical or
supportive), ``critical``, ``supportive``; ``min_score`` (0..1) on the stance score.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


STANCES = ("critical", "supportive", "neutral")
# min_stance: which stances a subscriber receives (None: every stance, unclassified included).
MIN_STANCE: dict[str, tuple[str, ...] | None] = {
    "any": None, "neutral": None,
    "opinionated": ("critical", "supportive"),
    "critical": ("critical",), "supportive": ("supportive",),
}
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SCHEDULE = re.compile(r"^\s*(daily|\*|(?:mon|tue|wed|thu|fri|sat|sun)(?:\s*,\s*(?:mon|tue|wed|thu|fri|sat|sun))*)\s+([01]?\d|2[0-3]):([0-5]\d)\s*$", re.I)
NEVER = "never"  # a subscriber's schedule: feed-only, never e-mailed
# Followed dossier ids: the dossier keys the sources write (crawler.sources._congress_bills, _ep_common).
DOSSIER_ID = re.compile(r"^(?:us-bill:\d{1,3}-(?:hconres|hjres|hres|hr|sconres|sjres|sres|s)-\d+"
                        r"|ep-procedure:\d{4}/\d{4}[A-Z]?\([A-Z]{3,4}\))$")
LIMITS = ("max_documents", "max_mentions_per_document", "first_digest_days")
STRINGS = ("schedule", "timezone", "from", "smtp_url_env", "base_url", "unsubscribe_secret_env", "unsubscribe_mailto")


def check_address(address: object) -> str:
    """The address if it is one mailbox (email-validator, syntax only: no DNS); raises ValueError with a
    one-line reason. CR/LF, commas and display names are refused: one subscriber is one envelope recipient."""
    if not isinstance(address, str) or not address.strip():
        raise ValueError(f"expected an e-mail address, got {address!r}")
    if any(c in address for c in "\r\n,;<>"):
        raise ValueError(f"expected one plain address (no line breaks, commas or display name), got {address!r}")
    from email_validator import EmailNotValidError, validate_email  # ~40 ms: only when there is an address to check

    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"{address!r} is not a valid e-mail address: {exc}") from None
    return address


class InvalidSetting(ValueError):
    """A ``[digest]`` value that does not validate; ``key`` is its dotted name."""

    def __init__(self, key: str, message: str):
        self.key = key
        self.message = message
        super().__init__(f"{key}: {message}")


@dataclass(frozen=True)
class Schedule:
    """``mon 07:00``, ``mon,thu 07:00``, ``daily 07:00``: weekdays (0 = Monday) and a local time."""

    days: tuple[int, ...]
    hour: int
    minute: int

    def last_due(self, now: datetime, tz: ZoneInfo) -> datetime:
        """The most recent scheduled instant at or before ``now`` (aware, UTC)."""
        local = now.astimezone(tz)
        for back in range(8):
            day = local.date() - timedelta(days=back)
            if day.weekday() not in self.days:
                continue
            instant = datetime(day.year, day.month, day.day, self.hour, self.minute, tzinfo=tz)
            if instant <= local:
                return instant.astimezone(timezone.utc)
        raise AssertionError("a schedule always has a day within the last week")


def parse_schedule(text: str) -> Schedule:
    """Parse a digest schedule; raises ValueError with an example of the expected form."""
    match = SCHEDULE.match(text or "")
    if not match:
        raise ValueError(f"expected a schedule like 'mon 07:00', 'mon,thu 07:00' or 'daily 07:00', got {text!r}")
    days_text = match.group(1).lower()
    days = tuple(range(7)) if days_text in ("daily", "*") else tuple(sorted({DAYS.index(d.strip()) for d in days_text.split(",")}))
    return Schedule(days, int(match.group(2)), int(match.group(3)))


@dataclass
class Subscriber:
    """One ``[[digest.subscribers]]`` entry; empty topics / sources mean all; ``schedule`` and
    ``timezone`` None mean ``[digest]``'s."""

    email: str
    topics: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    min_stance: str = "any"
    min_score: float = 0.0
    name: str | None = None
    dossiers: list[str] = field(default_factory=list)
    entities: list[str] = field(default_factory=list)
    searches: list[str] = field(default_factory=list)
    schedule: str | None = None
    timezone: str | None = None

    @classmethod
    def from_config(cls, entry: dict) -> "Subscriber":
        """A subscriber from its (validated) table."""
        return cls(entry["email"], list(entry.get("topics") or []), list(entry.get("sources") or []),
                   entry.get("min_stance") or "any", float(entry.get("min_score") or 0.0), entry.get("name"),
                   list(entry.get("dossiers") or []), list(entry.get("entities") or []),
                   list(entry.get("searches") or []), entry.get("schedule"), entry.get("timezone"))

    @property
    def follows(self) -> list[str]:
        """Every followed item (dossier ids, entity ids, searches)."""
        return [*self.dossiers, *self.entities, *self.searches]

    @property
    def stances(self) -> tuple[str, ...] | None:
        """The stances this subscriber receives (None: all)."""
        return MIN_STANCE.get(self.min_stance)


@dataclass(frozen=True)
class DigestSettings:
    """The validated ``[digest]`` section."""

    schedule: Schedule
    schedule_text: str
    timezone: str
    sender: str
    smtp_url_env: str
    base_url: str
    send_empty: bool
    max_documents: int
    max_mentions_per_document: int
    first_digest_days: int
    smtp_deadline_s: float
    subscribers: tuple[Subscriber, ...]
    unsubscribe_secret_env: str = "TRACKER_UNSUBSCRIBE_SECRET"
    unsubscribe_mailto: str = ""

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def schedule_of(self, sub: Subscriber) -> Schedule | None:
        """The subscriber's schedule (``[digest]``'s unless its own); None for ``never`` (feed-only)."""
        text = sub.schedule or self.schedule_text
        return None if text.strip().lower() == NEVER else parse_schedule(text)

    def tz_of(self, sub: Subscriber) -> ZoneInfo:
        """The subscriber's time zone (``[digest]``'s unless its own)."""
        return ZoneInfo(sub.timezone or self.timezone)

    def find_subscriber(self, email: str) -> Subscriber:
        """The configured subscriber with this address (any case), else an ad-hoc one receiving every topic."""
        for sub in self.subscribers:
            if sub.email.lower() == email.lower():
                return sub
        return Subscriber(email)


def parse_digest(raw: dict, topics: Iterable[str], sources: Iterable[str]) -> DigestSettings:
    """Validate the merged ``[digest]`` table (``topics``, ``sources``: the known names); raises `InvalidSetting`."""
    for key in STRINGS:
        if not isinstance(raw.get(key), str):
            raise InvalidSetting(f"digest.{key}", f"expected a string, got {raw.get(key)!r}")
    try:
        schedule = parse_schedule(raw["schedule"])
    except ValueError as exc:
        raise InvalidSetting("digest.schedule", str(exc)) from None
    try:
        ZoneInfo(raw["timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidSetting("digest.timezone", f"unknown time zone {raw['timezone']!r} (expected e.g. Europe/Brussels)") from None
    if urlsplit(raw["base_url"]).scheme not in ("http", "https") or not urlsplit(raw["base_url"]).netloc:
        raise InvalidSetting("digest.base_url", f"expected an http(s) URL (the front end's root), got {raw['base_url']!r}")
    if not isinstance(raw.get("send_empty"), bool):
        raise InvalidSetting("digest.send_empty", f"expected true or false, got {raw.get('send_empty')!r}")
    for key in LIMITS:
        value = raw.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InvalidSetting(f"digest.{key}", f"expected a positive integer, got {value!r}")
    deadline = raw.get("smtp_deadline_s")
    if not isinstance(deadline, (int, float)) or isinstance(deadline, bool) or not math.isfinite(deadline) or deadline <= 0:
        raise InvalidSetting("digest.smtp_deadline_s", f"expected a positive number of seconds, got {deadline!r}")
    entries = raw.get("subscribers", [])
    if not isinstance(entries, list):
        raise InvalidSetting("digest.subscribers", "expected an array of tables ([[digest.subscribers]])")
    if raw["unsubscribe_mailto"]:
        try:
            check_address(raw["unsubscribe_mailto"])
        except ValueError as exc:
            raise InvalidSetting("digest.unsubscribe_mailto", str(exc)) from None
    known_topics, known_sources = set(topics), set(sources)
    subscribers = tuple(_subscriber(entry, f"digest.subscribers[{i}]", known_topics, known_sources)
                        for i, entry in enumerate(entries))
    _check_entities(subscribers)
    seen: set[str] = set()
    for i, sub in enumerate(subscribers):
        if sub.email.lower() in seen:
            raise InvalidSetting(f"digest.subscribers[{i}].email", f"{sub.email!r} is already a subscriber")
        seen.add(sub.email.lower())
    return DigestSettings(schedule, raw["schedule"], raw["timezone"], raw["from"], raw["smtp_url_env"], raw["base_url"],
                          raw["send_empty"], *(raw[k] for k in LIMITS), float(deadline), subscribers,
                          raw["unsubscribe_secret_env"], raw["unsubscribe_mailto"])


def _subscriber(entry: object, key: str, topics: set[str], sources: set[str]) -> Subscriber:
    if not isinstance(entry, dict):
        raise InvalidSetting(key, "expected a table with at least email = \"...\"")
    try:
        check_address(entry.get("email"))
    except ValueError as exc:
        raise InvalidSetting(f"{key}.email", str(exc)) from None
    for name in entry.get("topics", []):
        if name not in topics:
            raise InvalidSetting(f"{key}.topics", f"unknown topic {name!r}")
    if entry.get("min_stance", "any") not in MIN_STANCE:
        raise InvalidSetting(f"{key}.min_stance", f"expected one of {', '.join(MIN_STANCE)}, got {entry['min_stance']!r}")
    score = entry.get("min_score", 0)
    if not isinstance(score, (int, float)) or isinstance(score, bool) or not 0 <= score <= 1:
        raise InvalidSetting(f"{key}.min_score", f"expected a number between 0 and 1, got {score!r}")
    for name in entry.get("sources", []) or []:
        if name not in sources:
            raise InvalidSetting(f"{key}.sources", f"unknown source {name!r}")
    _check_follows(entry, key)
    return Subscriber.from_config(entry)


def _strings(entry: dict, key: str, name: str) -> list[str]:
    value = entry.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise InvalidSetting(f"{key}.{name}", f"expected a list of non-empty strings, got {value!r}")
    return value


def _check_follows(entry: dict, key: str) -> None:
    """A subscriber's own schedule and time zone, and the syntax of its followed dossiers and searches."""
    from db.search import QueryError, match_expression

    if "schedule" in entry:
        schedule = entry["schedule"]
        if not isinstance(schedule, str) or schedule.strip().lower() != NEVER:
            try:
                parse_schedule(schedule if isinstance(schedule, str) else "")
            except ValueError as exc:
                raise InvalidSetting(f"{key}.schedule", f"{exc} or 'never'") from None
    if "timezone" in entry:
        try:
            ZoneInfo(entry["timezone"])
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise InvalidSetting(f"{key}.timezone", f"unknown time zone {entry['timezone']!r} (expected e.g. Europe/Brussels)") from None
    for dossier in _strings(entry, key, "dossiers"):
        if not DOSSIER_ID.match(dossier):
            raise InvalidSetting(f"{key}.dossiers", f"unknown dossier id {dossier!r} (expected e.g. 'us-bill:118-hr-1724' "
                                 "or 'ep-procedure:2023/2059(INI)')")
    for query in _strings(entry, key, "searches"):
        try:
            match_expression(query)
        except QueryError as exc:
            raise InvalidSetting(f"{key}.searches", f"{query!r}: {exc}") from None
    _strings(entry, key, "entities")


def _check_entities(subscribers: tuple[Subscriber, ...]) -> None:
    """Every followed entity id is one of the gazetteer's (the ids the NLP links mentions to)."""
    if not any(sub.entities for sub in subscribers):
        return
    from nlp.gazetteer import load_gazetteer  # ~0.1 s from its cache: only when an entity is followed

    known = load_gazetteer().entities
    for i, sub in enumerate(subscribers):
        for entity in sub.entities:
            if entity not in known:
                raise InvalidSetting(f"digest.subscribers[{i}].entities", f"unknown entity id {entity!r} "
                                     "(expected a gazetteer id such as 'org:cosco' or 'port:NLRTM')")
