"""Google Calendar event resources ⇄ idealweek's model (pure functions, no I/O).

Reading: ``date`` vs ``dateTime`` (+ ``timeZone``), ``transparency``,
``status``, the user's own ``responseStatus``, ``eventType`` and recurring
instances (``recurringEventId`` / ``originalStartTime``).

Writing: deterministic base32hex ids from the owned event's key, the ownership
tag in ``extendedProperties.private`` (split over several properties when it
would exceed Google's 1024-character value limit), no attendees.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog

from idealweek.ids import stable_id
from idealweek.model import TAG_PROPERTY, DesiredEvent, Event, OwnedTag, Response, Status
from idealweek.providers.google.resources import EventDateTime, GoogleEvent, OutOfOfficeProperties

OWNED_PROPERTY = "idealweekOwned"
"""Private property set to ``"1"`` on every owned event: the ``privateExtendedProperty`` filter of list_owned."""
OWNED_VALUE = "1"
PARTS_PROPERTY = "idealweekParts"
"""How many properties (``idealweek``, ``idealweek1``, …) the encoded tag is split over."""
CHUNK = 1000
"""Characters per tag property (Google truncates values beyond 1024)."""
MAX_PARTS = 8
MAX_KEY_LENGTH = 44
"""Google silently drops private property keys longer than this."""

_STATUSES: dict[object, Status] = {s.value: s for s in Status}
_RESPONSES: dict[str, Response] = {r.value: r for r in Response}
"""``Response(value)`` without the enum's slow call (10,000 events in a first sync, issue 15)."""
NEVER_BUSY_TYPES = frozenset({"workingLocation", "birthday"})
ALWAYS_BUSY_TYPES = frozenset({"outOfOffice"})

log = structlog.get_logger(__name__)


def event_id(key: str) -> str:
    """The Google event id for an owned event key: 32 base32hex characters (``0-9a-v``), stable."""
    return stable_id(key, prefix="")


def is_valid_event_id(value: str) -> bool:
    """Google's rule for client-supplied ids: base32hex characters, 5–1024 long."""
    return 5 <= len(value) <= 1024 and all(c in "0123456789abcdefghijklmnopqrstuv" for c in value)


# -- the ownership tag -----------------------------------------------------------


def tag_properties(tag: OwnedTag) -> dict[str, str]:
    """Private extended properties carrying ``tag`` (every key ≤ 44 chars, every value ≤ 1024 chars)."""
    text = tag.encode()
    if len(text) > CHUNK * MAX_PARTS:
        # Only the per-debt payment detail can grow without bound; the block itself stays identified.
        text = dataclasses.replace(tag, pays={}).encode()
    parts = [text[i : i + CHUNK] for i in range(0, len(text), CHUNK)] or [""]
    props = {TAG_PROPERTY: parts[0], OWNED_PROPERTY: OWNED_VALUE, PARTS_PROPERTY: str(len(parts))}
    for i, part in enumerate(parts[1:], start=1):
        props[f"{TAG_PROPERTY}{i}"] = part
    assert all(len(k) <= MAX_KEY_LENGTH and len(v) <= 1024 for k, v in props.items())
    return props


def tag_from_properties(props: Mapping[str, object]) -> OwnedTag | None:
    """The tag stored by :func:`tag_properties`, or ``None`` when there is none (or it is damaged)."""
    first = props.get(TAG_PROPERTY)
    if not isinstance(first, str):
        return None
    try:
        parts = max(1, min(MAX_PARTS, int(str(props.get(PARTS_PROPERTY, "1")))))
    except ValueError:
        parts = 1
    text = first + "".join(str(props.get(f"{TAG_PROPERTY}{i}", "")) for i in range(1, parts))
    try:
        return OwnedTag.decode(text)
    except ValueError as exc:
        log.warning("google.bad_tag", problem=str(exc)[:200], action="event left alone")
        return None


# -- reading ------------------------------------------------------------------------


def zone_or(name: object, default: ZoneInfo) -> ZoneInfo:
    """``ZoneInfo(name)``, or ``default`` when the name is missing or unknown."""
    if isinstance(name, str) and name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            return default
    return default


def parse_when(value: object, default_zone: ZoneInfo) -> tuple[datetime, bool]:
    """An ``EventDateTime`` → (aware datetime, all-day?).  Raises ``ValueError`` when unreadable."""
    if not isinstance(value, dict):
        raise ValueError(f"not an EventDateTime: {value!r}")
    text = value.get("dateTime")
    if text:
        dt = datetime.fromisoformat(str(text))
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=zone_or(value.get("timeZone"), default_zone))
        return dt.astimezone(UTC), False
    if value.get("date"):
        zone = zone_or(value.get("timeZone"), default_zone)
        return datetime.combine(date.fromisoformat(str(value["date"])), time(), zone), True
    raise ValueError(f"EventDateTime without date or dateTime: {value!r}")


def recurrence_id(value: object, default_zone: ZoneInfo) -> str:
    """``originalStartTime`` as an iCalendar-style RECURRENCE-ID (UTC), or ``""``."""
    if not value:
        return ""
    when, all_day = parse_when(value, default_zone)
    return when.strftime("%Y%m%d") if all_day else when.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def own_response(item: GoogleEvent) -> Response:
    """The user's own answer: the attendee marked ``self``; the organizer of a meeting; else none."""
    attendees = item.get("attendees") or []
    for attendee in attendees:
        if isinstance(attendee, dict) and attendee.get("self"):
            return _RESPONSES.get(str(attendee.get("responseStatus", "needsAction")), Response.NEEDS_ACTION)
    organizer = item.get("organizer") or {}
    if attendees and isinstance(organizer, dict) and organizer.get("self"):
        return Response.ORGANIZER
    return Response.NONE


def organized_by_other(item: GoogleEvent) -> bool:
    """Someone else organises it: an ``organizer`` that is not this calendar (``self`` absent means false)."""
    organizer = item.get("organizer")
    return isinstance(organizer, dict) and bool(organizer) and organizer.get("self") is not True


def is_busy(item: GoogleEvent) -> bool:
    """Whether the event blocks time: out-of-office always, working location and birthdays never."""
    event_type = item.get("eventType", "default")
    if event_type in NEVER_BUSY_TYPES:
        return False
    if event_type in ALWAYS_BUSY_TYPES:
        return True
    return bool(item.get("transparency", "opaque") != "transparent")


def is_cancelled(item: GoogleEvent) -> bool:
    return item.get("status") == "cancelled"


def event_from_json(calendar: str, item: GoogleEvent, default_zone: ZoneInfo) -> Event:
    """A (non-cancelled) Google event resource → :class:`Event`.  Raises ``ValueError`` when unreadable."""
    uid = item.get("id")
    if not isinstance(uid, str) or not uid:
        raise ValueError("event without id")
    start, all_day = parse_when(item.get("start"), default_zone)
    end, _ = parse_when(item.get("end"), default_zone)
    status = _STATUSES.get(item.get("status", "confirmed"), Status.CONFIRMED)
    props = (item.get("extendedProperties") or {}).get("private") or {}
    tag = tag_from_properties(props) if isinstance(props, dict) and props else None
    if tag is not None and event_id(tag.key) != uid:
        # A copy the user made of an owned event: the copy is theirs, not ours.
        tag = None
    return Event(
        calendar=calendar,
        uid=uid,
        start=start,
        end=end,
        title=str(item.get("summary", "")),
        description=str(item.get("description", "")),
        location=str(item.get("location", "")),
        all_day=all_day,
        status=status,
        busy=is_busy(item),
        response=own_response(item),
        private=item.get("visibility") in ("private", "confidential"),
        tag=tag,
        etag=str(item.get("etag", "")),
        series=str(item.get("recurringEventId", "")),
        recurrence_id=recurrence_id(item.get("originalStartTime"), default_zone),
        attendees=len(item.get("attendees") or []),
        organizer_other=organized_by_other(item),
    )


# -- writing ------------------------------------------------------------------------


def when_json(value: datetime, zone: ZoneInfo) -> EventDateTime:
    """An aware datetime → ``EventDateTime`` in the user's zone (so the event reads well in their calendar)."""
    return {"dateTime": value.astimezone(zone).isoformat(), "timeZone": zone.key}


OOO_DECLINE_MODE = "declineOnlyNewConflictingInvitations"
"""A defending block declines only invitations that arrive while it exists: nothing already accepted is touched."""


def insert_body(
    desired: DesiredEvent, zone: ZoneInfo, *, focus_time: bool = False, out_of_office: bool = False
) -> GoogleEvent:
    """The ``events.insert`` body for a desired owned event: stable id, tag, no attendees."""
    body: GoogleEvent = {
        "id": event_id(desired.key),
        "summary": desired.title,
        "start": when_json(desired.start, zone),
        "end": when_json(desired.end, zone),
        "transparency": "opaque" if desired.busy else "transparent",
        "visibility": "private" if desired.private else "default",
        "extendedProperties": {"private": tag_properties(desired.tag)},
        "guestsCanInviteOthers": False,
    }
    if desired.description:
        body["description"] = desired.description
    if focus_time:
        body["eventType"] = "focusTime"
        # declineNone: a focus block never declines (and so never mails) anyone.
        body["focusTimeProperties"] = {"autoDeclineMode": "declineNone"}
    elif out_of_office:
        # defend = "decline" (issue 18): Google itself declines new conflicting invitations with the message;
        # idealweek never invites or mails anyone.
        body["eventType"] = "outOfOffice"
        body["transparency"] = "opaque"
        props: OutOfOfficeProperties = {"autoDeclineMode": OOO_DECLINE_MODE}
        if desired.decline_message:
            props["declineMessage"] = desired.decline_message
        body["outOfOfficeProperties"] = props
    return body


def patch_body(desired: DesiredEvent, zone: ZoneInfo) -> GoogleEvent:
    """The ``events.patch`` body: times, busy, privacy and tag only — the user's title and text are kept."""
    return {
        "start": when_json(desired.start, zone),
        "end": when_json(desired.end, zone),
        "transparency": "opaque" if desired.busy else "transparent",
        "visibility": "private" if desired.private else "default",
        "extendedProperties": {"private": tag_properties(desired.tag)},
    }
