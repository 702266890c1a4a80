"""CalDAV resources ⇄ idealweek's model (pure functions, no I/O).

Identity: an event's ``uid`` is the name of its resource in the collection
(the last path segment, unquoted: ``abc.ics``), and each occurrence of a
recurring event is ``<name>@<RECURRENCE-ID>`` with ``series = <name>``.  So a
removal reported by ``sync-collection`` (an href, nothing else) names what to
drop without any stored map, in a fresh process too.

Reading shares the local-ICS parser (repairs, time zones, recurrence
expansion over the window); the user's own answer to an invitation comes from
the ``ATTENDEE`` whose address is the account's.

Writing: owned events live at ``<stable_id(key)>.ics`` with that UID and the
tag in an ``X-IDEALWEEK`` property; no attendees, no organizer (no mail).
A tag counts only on the event whose UID is the tag key's id (a copy the
user made in their calendar app is theirs).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

from idealweek.errors import NotOwned
from idealweek.ids import stable_id
from idealweek.model import DesiredEvent, Event, Response
from idealweek.providers.ics import Window, expand_events, read_calendars
from idealweek.providers.ics import write as ics_write

if TYPE_CHECKING:
    import icalendar

SUFFIX = ".ics"

_PARTSTAT = {
    "ACCEPTED": Response.ACCEPTED,
    "DECLINED": Response.DECLINED,
    "TENTATIVE": Response.TENTATIVE,
    "NEEDS-ACTION": Response.NEEDS_ACTION,
    "DELEGATED": Response.DECLINED,
}


def owned_uid(key: str) -> str:
    """The iCalendar UID (and resource name without ``.ics``) of the owned event with ``key``."""
    return stable_id(key)


def owned_name(key: str) -> str:
    return owned_uid(key) + SUFFIX


def resource_name(href: str) -> str:
    """The member name of an href or URL: its last path segment, unquoted."""
    path = urlsplit(str(href)).path
    return unquote(path.rstrip("/").rsplit("/", 1)[-1])


def is_collection_href(href: str, collection_path: str) -> bool:
    """True for the collection itself (iCloud lists it among sync changes) or any sub-collection."""
    path = unquote(urlsplit(str(href)).path)
    return path.endswith("/") or path.rstrip("/") == unquote(collection_path).rstrip("/")


def _rid_of(comp: icalendar.Component) -> str:
    rid_prop = comp.get("RECURRENCE-ID")
    if rid_prop is None:
        return ""
    value = rid_prop.dt
    if isinstance(value, datetime) and value.tzinfo is not None:
        return str(value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ"))
    return str(value.strftime("%Y%m%dT%H%M%S" if isinstance(value, datetime) else "%Y%m%d"))


def _invitations(cals: list[icalendar.Calendar], addresses: frozenset[str]) -> dict[str, tuple[Response | None, bool]]:
    """RECURRENCE-ID text ("" for the master) → (the user's answer, organised by someone else?).

    Without the user's addresses no answer is known, and any ORGANIZER counts as someone else.
    """
    out: dict[str, tuple[Response | None, bool]] = {}
    for comp in (c for cal in cals for c in cal.walk("VEVENT")):
        organizer = str(comp.get("ORGANIZER", "")).strip().lower().removeprefix("mailto:")
        attendees = comp.get("ATTENDEE") or []
        if not isinstance(attendees, list):
            attendees = [attendees]
        if not organizer and not attendees:
            continue
        response: Response | None = None
        if organizer and organizer in addresses:
            response = Response.ORGANIZER
        else:
            for att in attendees:
                if str(att).strip().lower().removeprefix("mailto:") in addresses:
                    partstat = str(att.params.get("PARTSTAT", "NEEDS-ACTION")).upper()
                    response = _PARTSTAT.get(partstat, Response.NEEDS_ACTION)
        out[_rid_of(comp)] = (response, bool(organizer) and organizer not in addresses)
    return out


def events_of_resource(
    name: str,
    data: str,
    etag: str,
    *,
    calendar: str,
    zone: ZoneInfo,
    window: Window,
    source: str,
    addresses: frozenset[str] = frozenset(),
) -> list[Event]:
    """The occurrences of one calendar object resource that touch ``window``, named after the resource.

    Raises :class:`~idealweek.errors.ProviderError` when ``data`` is not iCalendar.
    """
    cals = read_calendars(data.encode("utf-8"), source)
    upper = data.upper()
    invitations = _invitations(cals, addresses) if "ATTENDEE" in upper or "ORGANIZER" in upper else {}
    parsed = expand_events(
        cals,
        source=source,
        calendar=calendar,
        zone=zone,
        window=window,
        etag=etag,
        default_uid=name.removesuffix(SUFFIX),
    )
    out: list[Event] = []
    for ev in parsed:
        ical_uid = ev.series or ev.uid
        rest = ev.uid[len(ical_uid) :] if ev.uid.startswith(ical_uid) else f"@{ev.start:%Y%m%dT%H%M%SZ}"
        tag = ev.tag
        if tag is not None and ical_uid != owned_uid(tag.key):
            tag = None  # a copy of an owned event is the user's
        response, organizer_other = ev.response, ev.organizer_other
        invitation = invitations.get(ev.recurrence_id, invitations.get(""))
        if invitation is not None:
            response = invitation[0] or response
            organizer_other = organizer_other or invitation[1]
        out.append(
            dataclasses.replace(
                ev,
                uid=name + rest,
                series=name if rest else "",
                tag=tag,
                etag=etag,
                response=response,
                organizer_other=organizer_other,
            )
        )
    return out


# -- writing ---------------------------------------------------------------------------


def render_new(desired: DesiredEvent, now: datetime) -> str:
    """The iCalendar text of a new owned event: stable UID, the tag, no attendees (shared ICS writer)."""
    now = now.astimezone(UTC).replace(microsecond=0)
    return ics_write.render_new(owned_uid(desired.key), desired, now).decode("utf-8")


def render_update(data: str, desired: DesiredEvent, now: datetime, *, calendar: str, resource: str) -> str:
    """``data`` (an owned event as stored) with new times, busy, privacy and tag; the user's title and text kept.

    :class:`~idealweek.errors.NotOwned` unless it is one VEVENT with our tag, the key's UID and no attendees.
    """
    cal, comp = ics_write.owned_vevent(data.encode("utf-8"), calendar, resource, resource)
    if str(comp.get("UID", "")) != owned_uid(desired.key):
        raise NotOwned(f"{calendar}: {resource} has another UID than idealweek gave it; not touching it")
    if comp.get("ATTENDEE") is not None:
        raise NotOwned(f"{calendar}: {resource} has attendees now; it is the user's")
    ics_write.set_times(comp, desired, now.astimezone(UTC).replace(microsecond=0))
    ics_write.bump_sequence(comp)
    return bytes(cal.to_ical()).decode("utf-8")


def matches(event: Event, desired: DesiredEvent) -> bool:
    """True when ``event`` already is what ``desired`` asks an update to make of it."""
    return (
        event.tag == desired.tag
        and event.start == desired.start
        and event.end == desired.end
        and event.busy == desired.busy
        and event.private == desired.private
    )


def addresses_of(values: Iterable[str]) -> frozenset[str]:
    """Lower-case addresses without ``mailto:`` (the user's own, to find their ATTENDEE line)."""
    return frozenset(v.strip().lower().removeprefix("mailto:") for v in values if v and "@" in v)
