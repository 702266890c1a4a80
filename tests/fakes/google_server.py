"""The fake Google Calendar service, by its old name: everything lives in :mod:`tests.fakes.google`.

* ``google/server.py`` — :class:`GoogleFake` (the HTTP front, request log, faults);
* ``google/schema.py`` — the discovery document: methods, parameters, body validation, Google's errors;
* ``google/oauth.py`` — the consent redirect, the token endpoint, bearer checks;
* ``google/store.py`` and ``google/calendar.py`` — calendars, events and the user's back doors;
* ``google/sync.py`` — ``events.list`` pages and sync tokens;
* ``google/events.py`` — single-event reads and writes (out-of-office rules included);
* ``google/freebusy.py`` — ``freeBusy.query``;
* ``google/wiring.py`` — settings, sign-in and providers for idealweek's tests.
"""

from tests.fakes.google.calendar import FakeCalendar
from tests.fakes.google.oauth import CLIENT_ID, CLIENT_SECRET, DEFAULT_SCOPES
from tests.fakes.google.schema import (
    AUTO_DECLINE_MODES,
    BASE32HEX,
    DISCOVERY,
    EVENT_TYPES,
    FREEBUSY_MAX_CALENDARS,
    FREEBUSY_MAX_SPAN,
    METHODS,
    SCHEMAS,
    STANDARD_PARAMS,
    STATUS_NAMES,
    SYNC_FORBIDDEN,
    ApiFailure,
    bad_request,
    validate,
)
from tests.fakes.google.server import Fault, GoogleFake, Recorded, quote_id
from tests.fakes.google.wiring import google_provider, google_settings, signed_in

__all__ = [
    "AUTO_DECLINE_MODES",
    "BASE32HEX",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "DEFAULT_SCOPES",
    "DISCOVERY",
    "EVENT_TYPES",
    "FREEBUSY_MAX_CALENDARS",
    "FREEBUSY_MAX_SPAN",
    "METHODS",
    "SCHEMAS",
    "STANDARD_PARAMS",
    "STATUS_NAMES",
    "SYNC_FORBIDDEN",
    "ApiFailure",
    "FakeCalendar",
    "Fault",
    "GoogleFake",
    "Recorded",
    "bad_request",
    "google_provider",
    "google_settings",
    "quote_id",
    "signed_in",
    "validate",
]
