"""iCalendar data for the events idealweek owns: a new VEVENT, and a VEVENT moved to a new plan.

Shared by every provider that stores iCalendar data (vdir files, CalDAV
resources).  Written times are UTC; the ownership tag is an ``X-IDEALWEEK``
property.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from idealweek.errors import NotOwned
from idealweek.model import DesiredEvent
from idealweek.providers.ics.convert import TAG_ICS_PROPERTY, decode_tag

if TYPE_CHECKING:
    from icalendar import Calendar, Component

PRODID = "-//idealweek//idealweek//EN"


def set_times(comp: Component, desired: DesiredEvent, now: datetime) -> None:
    """Put ``desired``'s times, visibility, busy state and tag on the VEVENT ``comp`` (replacing old ones)."""
    for key in ("DTSTART", "DTEND", "DURATION", "CLASS", "TRANSP", TAG_ICS_PROPERTY, "DTSTAMP", "LAST-MODIFIED"):
        comp.pop(key, None)
    comp.add("DTSTART", desired.start.astimezone(UTC))
    comp.add("DTEND", desired.end.astimezone(UTC))
    if desired.private:
        comp.add("CLASS", "PRIVATE")
    comp.add("TRANSP", "OPAQUE" if desired.busy else "TRANSPARENT")
    comp.add("DTSTAMP", now)
    comp.add("LAST-MODIFIED", now)
    from icalendar import vText  # imported when iCalendar data is written (issue 15)

    # An escaped TEXT value: servers built on vobject (Radicale) cut an unescaped X- value at its first comma.
    comp.add(TAG_ICS_PROPERTY, vText(desired.tag.encode()))


def bump_sequence(comp: Component) -> None:
    """Increase the VEVENT's SEQUENCE by one (1 when missing or unreadable)."""
    seq = comp.get("SEQUENCE")
    comp.pop("SEQUENCE", None)
    try:
        comp.add("SEQUENCE", int(str(seq)) + 1 if seq is not None else 1)
    except ValueError:
        comp.add("SEQUENCE", 1)


def render_new(uid: str, desired: DesiredEvent, now: datetime) -> bytes:
    """A VCALENDAR holding one new owned VEVENT with UID ``uid``."""
    import icalendar

    cal = icalendar.Calendar()
    cal.add("PRODID", PRODID)
    cal.add("VERSION", "2.0")
    comp = icalendar.Event()
    comp.add("UID", uid)
    comp.add("SUMMARY", desired.title)
    if desired.description:
        comp.add("DESCRIPTION", desired.description)
    comp.add("CREATED", now)
    comp.add("SEQUENCE", 0)
    set_times(comp, desired, now)
    cal.add_component(comp)
    return bytes(cal.to_ical())


def owned_vevent(data: bytes, calendar: str, resource: str, uid: str) -> tuple[Calendar, Component]:
    """The calendar in ``data`` and its single VEVENT carrying a valid tag.

    :class:`NotOwned` (naming the calendar and the resource or ``uid``) when
    ``data`` is unreadable, holds other than one event, or the event is not idealweek's.
    """
    import icalendar

    try:
        cal = icalendar.Calendar.from_ical(data)
    except Exception as exc:
        raise NotOwned(f"{calendar}: {resource} is unreadable; not touching it") from exc
    vevents = list(cal.walk("VEVENT"))
    if len(vevents) != 1:
        raise NotOwned(f"{calendar}: {resource} holds {len(vevents)} events; idealweek writes one")
    comp = vevents[0]
    raw = comp.get(TAG_ICS_PROPERTY)
    if raw is None or decode_tag(str(raw)) is None:
        raise NotOwned(f"{calendar}: event {uid} is not idealweek's")
    return cal, comp


__all__ = ["PRODID", "bump_sequence", "owned_vevent", "render_new", "set_times"]
