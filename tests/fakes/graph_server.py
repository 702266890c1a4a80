"""The fake Microsoft Graph, by its old name: everything lives in :mod:`tests.fakes.graph`.

* ``graph/server.py`` — :class:`FakeGraph` (the HTTP front, request log, faults, auth, routing);
* ``graph/schema.py`` — the Graph schema subset and its validator;
* ``graph/values.py`` — time zones, stamps, the stored event, Graph's errors;
* ``graph/store.py`` — calendars, events, rendering and the user's back door;
* ``graph/sync.py`` — delta rounds, calendar views and paged listings;
* ``graph/events.py`` — creating and changing events;
* ``graph/schedule.py`` — ``getSchedule`` (other people's free/busy);
* ``graph/wiring.py`` — providers for idealweek's tests.

The loopback server itself (:func:`serve`, :class:`Served`) is shared by every fake: :mod:`tests.fakes.http_base`.
"""

from tests.fakes.graph.schema import SCHEMA_PATH, SchemaValidator, validator
from tests.fakes.graph.server import FakeGraph, Fault
from tests.fakes.graph.sync import LINK_SAFE
from tests.fakes.graph.values import GraphError, StoredEvent, zone_of
from tests.fakes.graph.wiring import day, provider_for
from tests.fakes.http_base import Served, serve

__all__ = [
    "LINK_SAFE",
    "SCHEMA_PATH",
    "FakeGraph",
    "Fault",
    "GraphError",
    "SchemaValidator",
    "Served",
    "StoredEvent",
    "day",
    "provider_for",
    "serve",
    "validator",
    "zone_of",
]
