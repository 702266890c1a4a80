"""The shapes of the Calendar v3 resources idealweek reads and writes, and of the client library calls it makes.

The TypedDicts follow Google's discovery document (``calendar.v3.json``) for the fields idealweek uses; every
one is ``total=False`` where Google may leave a field out.  They describe what Google documents, not what a
broken proxy may send: the readers still check every value before trusting it.

``googleapiclient`` has no types; the Protocols name the few resource methods idealweek calls and what their
``execute()`` returns, so the one untyped value (the built service) is given its type once, in the client.
"""

from __future__ import annotations

from typing import Protocol, TypedDict, TypeVar, Unpack

T_co = TypeVar("T_co", covariant=True)

# -- event resources ------------------------------------------------------------------


class EventDateTime(TypedDict, total=False):
    """``start``/``end``/``originalStartTime``: ``date`` (all day) or ``dateTime``, with an optional zone."""

    date: str
    dateTime: str
    timeZone: str


class EventAttendee(TypedDict, total=False):
    email: str
    self: bool
    """This attendee is the calendar being read (the user)."""
    organizer: bool
    responseStatus: str
    """``needsAction``, ``declined``, ``tentative`` or ``accepted``."""


class EventOrganizer(TypedDict, total=False):
    email: str
    displayName: str
    self: bool


class ExtendedProperties(TypedDict, total=False):
    private: dict[str, str]
    shared: dict[str, str]


class FocusTimeProperties(TypedDict, total=False):
    autoDeclineMode: str
    declineMessage: str
    chatStatus: str


class OutOfOfficeProperties(TypedDict, total=False):
    autoDeclineMode: str
    declineMessage: str


class GoogleEvent(TypedDict, total=False):
    """An ``Event`` resource (a cancelled one in an incremental list may carry only ``id`` and ``status``)."""

    id: str
    etag: str
    status: str
    """``confirmed``, ``tentative`` or ``cancelled``."""
    summary: str
    description: str
    location: str
    start: EventDateTime
    end: EventDateTime
    recurringEventId: str
    originalStartTime: EventDateTime
    transparency: str
    visibility: str
    eventType: str
    attendees: list[EventAttendee]
    organizer: EventOrganizer
    extendedProperties: ExtendedProperties
    guestsCanInviteOthers: bool
    focusTimeProperties: FocusTimeProperties
    outOfOfficeProperties: OutOfOfficeProperties


class EventsPage(TypedDict, total=False):
    """One page of ``events.list``: ``nextPageToken`` on every page but the last, ``nextSyncToken`` on the last."""

    kind: str
    etag: str
    summary: str
    timeZone: str
    items: list[GoogleEvent]
    nextPageToken: str
    nextSyncToken: str


class EventsListParams(TypedDict, total=False):
    """The ``events.list`` parameters idealweek sends (besides ``pageToken``)."""

    calendarId: str
    singleEvents: bool
    maxResults: int
    syncToken: str
    timeMin: str
    privateExtendedProperty: str


# -- calendar list ----------------------------------------------------------------------


class CalendarListEntry(TypedDict, total=False):
    id: str
    summary: str
    summaryOverride: str
    accessRole: str
    primary: bool


class CalendarListParams(TypedDict, total=False):
    maxResults: int
    pageToken: str


class CalendarListPage(TypedDict, total=False):
    items: list[CalendarListEntry]
    nextPageToken: str
    nextSyncToken: str


# -- free/busy ----------------------------------------------------------------------------


class FreeBusyRequestItem(TypedDict):
    id: str


class FreeBusyRequest(TypedDict):
    timeMin: str
    timeMax: str
    timeZone: str
    items: list[FreeBusyRequestItem]


class TimePeriod(TypedDict, total=False):
    start: str
    end: str


class FreeBusyError(TypedDict, total=False):
    domain: str
    reason: str


class FreeBusyCalendar(TypedDict, total=False):
    errors: list[FreeBusyError]
    busy: list[TimePeriod]


class FreeBusyResponse(TypedDict, total=False):
    kind: str
    timeMin: str
    timeMax: str
    calendars: dict[str, FreeBusyCalendar]


# -- the client library ---------------------------------------------------------------


class ApiRequest(Protocol[T_co]):
    """A ``googleapiclient.http.HttpRequest`` whose answer is a ``T_co``."""

    headers: dict[str, str]

    def execute(self, num_retries: int = 0) -> T_co: ...


class EventsResource(Protocol):
    def list(self, *, pageToken: str = ..., **params: Unpack[EventsListParams]) -> ApiRequest[EventsPage]: ...

    def get(self, *, calendarId: str, eventId: str) -> ApiRequest[GoogleEvent]: ...

    def insert(self, *, calendarId: str, body: GoogleEvent, sendUpdates: str) -> ApiRequest[GoogleEvent]: ...

    def patch(
        self, *, calendarId: str, eventId: str, body: GoogleEvent, sendUpdates: str
    ) -> ApiRequest[GoogleEvent]: ...

    def delete(self, *, calendarId: str, eventId: str, sendUpdates: str) -> ApiRequest[object]: ...


class CalendarListResource(Protocol):
    def list(self, **params: Unpack[CalendarListParams]) -> ApiRequest[CalendarListPage]: ...


class FreeBusyResource(Protocol):
    def query(self, *, body: FreeBusyRequest) -> ApiRequest[FreeBusyResponse]: ...


class CalendarService(Protocol):
    """What ``googleapiclient.discovery.build("calendar", "v3", ...)`` returns, as far as idealweek uses it."""

    def events(self) -> EventsResource: ...

    def calendarList(self) -> CalendarListResource: ...

    def freebusy(self) -> FreeBusyResource: ...
