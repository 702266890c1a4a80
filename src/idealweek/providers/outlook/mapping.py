"""Graph event JSON ↔ idealweek's :class:`Event` / :class:`DesiredEvent` (pure functions).

Graph writes times as ``{"dateTime": "2030-03-04T09:00:00.0000000",
"timeZone": "UTC"}``: a local time without offset plus a zone, which may be
an IANA name or a Windows name ("W. Europe Standard Time").  idealweek asks
for UTC (``Prefer: outlook.timezone="UTC"``) but copes with any zone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog

from idealweek.ids import stable_id
from idealweek.model import Defend, DesiredEvent, Event, OwnedTag, Response, Status
from idealweek.providers.outlook.resources import DateTimeTimeZone, ExtendedProperty, GraphEvent

log = structlog.get_logger(__name__)

TAG_GUID = "{6f0b4c1e-7d2a-4b8e-9c35-1d2e6a7b8c90}"
"""Fixed property-set GUID of idealweek's extended properties (never change it)."""
TAG_ID = f"String {TAG_GUID} Name idealweek"
"""Single-value extended property holding the encoded :class:`OwnedTag`."""
KEY_ID = f"String {TAG_GUID} Name idealweek-key"
"""Single-value extended property holding ``stable_id(key)``: finds one owned event by key with ``eq``."""
OWNER_ID = f"String {TAG_GUID} Name idealweek-owner"
"""Single-value extended property with the constant :data:`OWNER_VALUE`: lists owned events with ``eq``."""
OWNER_VALUE = "idealweek"
TRANSACTION_PREFIX = "idealweek-"

_UTC_NAMES = frozenset(
    {"utc", "etc/utc", "gmt", "etc/gmt", "z", "coordinated universal time", "tzone://microsoft/utc", "utc+00:00"}
)

SHOW_AS_FREE = frozenset({"free", "workingelsewhere"})
_RESPONSES = {
    "none": Response.NONE,
    "organizer": Response.ORGANIZER,
    "accepted": Response.ACCEPTED,
    "tentativelyaccepted": Response.TENTATIVE,
    "declined": Response.DECLINED,
    "notresponded": Response.NEEDS_ACTION,
}


class BadEvent(ValueError):
    """An event Graph sent that idealweek cannot read (skipped with a warning)."""


@lru_cache(maxsize=256)
def resolve_zone(name: str) -> tzinfo:
    """A Graph ``timeZone`` value (IANA, Windows or UTC spelling) → tzinfo."""
    key = name.strip()
    if not key or key.lower() in _UTC_NAMES:
        return UTC
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError):
        pass
    from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

    olson = WINDOWS_TO_OLSON.get(key)
    if olson is None:
        lowered = {k.lower(): v for k, v in WINDOWS_TO_OLSON.items()}
        olson = lowered.get(key.lower())
    if olson is None:
        raise BadEvent(f"unknown time zone {name!r}")
    return ZoneInfo(olson)


def parse_time(value: object, all_day_zone: tzinfo | None = None) -> datetime:
    """A ``dateTimeTimeZone`` → aware UTC datetime; all-day dates are local midnights in ``all_day_zone``."""
    if not isinstance(value, Mapping) or not isinstance(value.get("dateTime"), str):
        raise BadEvent(f"bad dateTimeTimeZone {value!r}")
    try:
        naive = datetime.fromisoformat(value["dateTime"])
    except ValueError:
        raise BadEvent(f"bad dateTime {value['dateTime']!r}") from None
    if all_day_zone is not None:
        day = date(naive.year, naive.month, naive.day)
        return datetime.combine(day, time(0), all_day_zone).astimezone(UTC)
    if naive.tzinfo is not None:
        return naive.astimezone(UTC)
    return naive.replace(tzinfo=resolve_zone(str(value.get("timeZone") or "UTC"))).astimezone(UTC)


def format_time(value: datetime) -> DateTimeTimeZone:
    """Aware datetime → ``{"dateTime", "timeZone": "UTC"}`` as Graph writes it."""
    return {"dateTime": value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": "UTC"}


def iso_utc(value: datetime) -> str:
    """Aware datetime → ``2030-03-04T09:00:00Z`` (query parameters)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def find_property(doc: GraphEvent, prop_id: str) -> str | None:
    """The value of a single-value extended property in an event JSON (ids compare case-insensitively)."""
    props = doc.get("singleValueExtendedProperties")
    if not isinstance(props, list):
        return None
    want = prop_id.lower()
    for p in props:
        if isinstance(p, Mapping) and str(p.get("id", "")).lower() == want:
            v = p.get("value")
            return v if isinstance(v, str) else None
    return None


def read_tag(doc: GraphEvent) -> OwnedTag | None:
    text = find_property(doc, TAG_ID)
    if text is None:
        return None
    try:
        return OwnedTag.decode(text)
    except ValueError as exc:
        log.warning("outlook.bad_tag", uid=str(doc.get("id", "")), problem=str(exc)[:200], action="event left alone")
        return None


def has_guests(doc: GraphEvent) -> bool:
    """A meeting: attendees, or an organizer other than the mailbox (a PATCH/DELETE would mail people)."""
    attendees = doc.get("attendees")
    return bool(attendees) or doc.get("isOrganizer") is False


def etag_of(doc: GraphEvent) -> str:
    """The event's version for ``If-Match``: ``@odata.etag`` (``W/"changeKey"``) or the changeKey."""
    etag = doc.get("@odata.etag")
    if isinstance(etag, str) and etag:
        return etag
    ck = doc.get("changeKey")
    return f'W/"{ck}"' if isinstance(ck, str) and ck else ""


def is_removed(doc: GraphEvent) -> bool:
    return "@removed" in doc or bool(doc.get("isCancelled"))


def to_event(calendar: str, doc: GraphEvent, zone: tzinfo, tag: OwnedTag | None = None) -> Event:
    """Graph event JSON → :class:`Event`; raises :class:`BadEvent` when it cannot be read."""
    uid = doc.get("id")
    if not isinstance(uid, str) or not uid:
        raise BadEvent("event without id")
    all_day = bool(doc.get("isAllDay"))
    start = parse_time(doc.get("start"), zone if all_day else None)
    end = parse_time(doc.get("end"), zone if all_day else None)
    show_as = str(doc.get("showAs") or "busy").lower()
    rs = doc.get("responseStatus")
    response = Response.NONE
    if isinstance(rs, Mapping):
        response = _RESPONSES.get(str(rs.get("response") or "none").lower(), Response.NONE)
    if response == Response.NONE and doc.get("isOrganizer") is True and doc.get("attendees"):
        response = Response.ORGANIZER
    status = Status.CONFIRMED
    if doc.get("isCancelled"):
        status = Status.CANCELLED
    elif show_as == "tentative":
        status = Status.TENTATIVE
    series = recurrence_id = ""
    if str(doc.get("type") or "") in ("occurrence", "exception"):
        series = str(doc.get("seriesMasterId") or "")
        original = doc.get("originalStart")
        if isinstance(original, str) and original:
            try:
                recurrence_id = iso_utc(datetime.fromisoformat(original.replace("Z", "+00:00")))
            except ValueError:
                recurrence_id = original
    location = doc.get("location")
    attendees = doc.get("attendees")
    return Event(
        calendar=calendar,
        uid=uid,
        start=start,
        end=end,
        title=str(doc.get("subject") or ""),
        description=str(doc.get("bodyPreview") or ""),
        location=str(location.get("displayName") or "") if isinstance(location, Mapping) else "",
        all_day=all_day,
        status=status,
        busy=show_as not in SHOW_AS_FREE,
        response=response,
        private=str(doc.get("sensitivity") or "normal").lower() in ("private", "confidential"),
        tag=tag if tag is not None else read_tag(doc),
        etag=etag_of(doc),
        series=series,
        recurrence_id=recurrence_id,
        attendees=len(attendees) if isinstance(attendees, list) else 0,
        organizer_other=doc.get("isOrganizer") is False,
    )


def transaction_id(calendar_id: str, key: str) -> str:
    """Deterministic ``transactionId`` for an owned event: same calendar + key → same id."""
    digest = hashlib.sha256(f"{calendar_id}\n{key}".encode()).hexdigest()[:40]
    return TRANSACTION_PREFIX + digest


def key_value(key: str) -> str:
    return stable_id(key)


def tag_properties(desired: DesiredEvent) -> list[ExtendedProperty]:
    return [
        {"id": TAG_ID, "value": desired.tag.encode()},
        {"id": KEY_ID, "value": key_value(desired.key)},
        {"id": OWNER_ID, "value": OWNER_VALUE},
    ]


def show_as(desired: DesiredEvent) -> str:
    """``free`` for a transparent block, ``oof`` (shown as away) for ``defend = "decline"`` (Graph has no per-event
    auto-decline), else ``busy``."""
    if not desired.busy:
        return "free"
    return "oof" if desired.defend == Defend.DECLINE else "busy"


def create_body(desired: DesiredEvent, calendar_id: str) -> GraphEvent:
    """The POST body: busy (or free), private when asked, no attendees, no reminder, the tag."""
    return {
        "subject": desired.title,
        "body": {"contentType": "text", "content": desired.description},
        "start": format_time(desired.start),
        "end": format_time(desired.end),
        "isAllDay": False,
        "showAs": show_as(desired),
        "sensitivity": "private" if desired.private else "normal",
        "isReminderOn": False,
        "responseRequested": False,
        "allowNewTimeProposals": False,
        "transactionId": transaction_id(calendar_id, desired.key),
        "singleValueExtendedProperties": tag_properties(desired),
    }


def update_body(desired: DesiredEvent) -> GraphEvent:
    """The PATCH body: times, busy, privacy and tag — never the title or description (user edits win)."""
    return {
        "start": format_time(desired.start),
        "end": format_time(desired.end),
        "showAs": show_as(desired),
        "sensitivity": "private" if desired.private else "normal",
        "singleValueExtendedProperties": [{"id": TAG_ID, "value": desired.tag.encode()}],
    }


def expand_tag() -> str:
    """``$expand`` value that returns only idealweek's tag property."""
    return f"singleValueExtendedProperties($filter=id eq '{TAG_ID}')"


def filter_by(prop_id: str, value: str) -> str:
    """``$filter`` selecting events whose extended property ``prop_id`` equals ``value``."""
    escaped = value.replace("'", "''")
    return f"singleValueExtendedProperties/Any(ep: ep/id eq '{prop_id}' and ep/value eq '{escaped}')"
