"""SQLite state: sync tokens, event cache, owned-event map, debt ledger, week statistics.

WAL mode, a schema version with migrations, and a clear error when the
database was written by a newer idealweek.  A database that cannot be read
is moved aside (never silently overwritten) and a fresh one is started:
ownership is rebuilt from the tags on the events.

``schema`` holds the tables and the schema version, ``rows`` the rows as values (the event
cache's JSON, the owned map's rows), ``database`` the :class:`Store` (opening, migrations,
snapshots, event cache, owned map, mirror key), ``decisions`` tombstones, waivers, payments
and debts, ``history`` week figures, cycles, alerts and experiments.
"""

from idealweek.store.database import Store
from idealweek.store.rows import OwnedRow, RowState, event_from_json, event_to_json
from idealweek.store.schema import MIRROR_KEY_NAME, SCHEMA_VERSION

__all__ = ["MIRROR_KEY_NAME", "SCHEMA_VERSION", "OwnedRow", "RowState", "Store", "event_from_json", "event_to_json"]
