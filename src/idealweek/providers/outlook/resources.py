"""The shapes of the Microsoft Graph v1.0 JSON idealweek reads and writes (the calendar subset it uses).

They follow the Graph schema (``tests/data/graph/graph-calendar-subset.json``) for the fields idealweek
uses; every one is ``total=False`` where Graph may leave a field out (``$select``, delta pages, ``@removed``
entries that carry only an id).  They describe what Graph documents, not what a broken proxy may send: the
readers still check every value before trusting it.
"""

from __future__ import annotations

from typing import TypedDict


class DateTimeTimeZone(TypedDict):
    """A local time without offset plus a zone (IANA or Windows name); idealweek asks for and writes UTC."""

    dateTime: str
    timeZone: str


class ResponseStatus(TypedDict, total=False):
    response: str
    """``none``, ``organizer``, ``tentativelyAccepted``, ``accepted``, ``declined`` or ``notResponded``."""
    time: str


class Location(TypedDict, total=False):
    displayName: str
    locationType: str
    locationUri: str


class ItemBody(TypedDict):
    contentType: str
    content: str


class EmailAddress(TypedDict, total=False):
    name: str
    address: str


class Recipient(TypedDict, total=False):
    emailAddress: EmailAddress


class Attendee(TypedDict, total=False):
    emailAddress: EmailAddress
    type: str
    status: ResponseStatus


class ExtendedProperty(TypedDict):
    """A ``singleValueLegacyExtendedProperty``."""

    id: str
    value: str


class Removed(TypedDict, total=False):
    reason: str


GraphEvent = TypedDict(
    "GraphEvent",
    {
        "@odata.etag": str,
        "@removed": Removed,
        "id": str,
        "changeKey": str,
        "transactionId": str,
        "subject": str,
        "body": ItemBody,
        "bodyPreview": str,
        "start": DateTimeTimeZone,
        "end": DateTimeTimeZone,
        "isAllDay": bool,
        "isCancelled": bool,
        "isOrganizer": bool,
        "showAs": str,
        "sensitivity": str,
        "responseStatus": ResponseStatus,
        "responseRequested": bool,
        "allowNewTimeProposals": bool,
        "isReminderOn": bool,
        "type": str,
        "seriesMasterId": str,
        "originalStart": str,
        "location": Location,
        "attendees": list[Attendee],
        "organizer": Recipient,
        "singleValueExtendedProperties": list[ExtendedProperty],
    },
    total=False,
)
"""An ``event`` (a delta entry for a deleted event has only ``id`` and ``@removed``)."""

EventsPage = TypedDict(
    "EventsPage",
    {"value": list[GraphEvent], "@odata.nextLink": str, "@odata.deltaLink": str},
    total=False,
)
"""One page of ``events``, ``calendarView`` or ``calendarView/delta`` (the delta link on the last page only)."""


class GraphCalendar(TypedDict, total=False):
    id: str
    name: str
    changeKey: str
    canEdit: bool
    isDefaultCalendar: bool


CalendarsPage = TypedDict("CalendarsPage", {"value": list[GraphCalendar], "@odata.nextLink": str}, total=False)


# -- getSchedule ------------------------------------------------------------------------


class ScheduleRequest(TypedDict):
    schedules: list[str]
    startTime: DateTimeTimeZone
    endTime: DateTimeTimeZone
    availabilityViewInterval: int


class FreeBusyError(TypedDict, total=False):
    message: str
    responseCode: str


class ScheduleItem(TypedDict, total=False):
    start: DateTimeTimeZone | None
    end: DateTimeTimeZone | None
    status: str | None
    """``free``, ``tentative``, ``busy``, ``oof``, ``workingElsewhere`` or ``unknown``."""
    isPrivate: bool
    subject: str
    location: str


class ScheduleInformation(TypedDict, total=False):
    scheduleId: str
    availabilityView: str
    scheduleItems: list[ScheduleItem]
    error: FreeBusyError | None


class ScheduleAnswer(TypedDict, total=False):
    value: list[ScheduleInformation]
