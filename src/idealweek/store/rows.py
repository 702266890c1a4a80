"""Rows of the state database as values: the event cache's compact JSON, the owned-event map's rows."""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from idealweek.model import Event, Kind, OwnedTag, Response, Status
from idealweek.store.schema import _dt

_STATUS = {s.value: s for s in Status}
_RESPONSE = {r.value: r for r in Response}


_ROW_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def event_to_json(ev: Event) -> str:
    """Compact row for the event cache: a JSON list with epoch seconds (fast to write and read)."""
    return _ROW_ENCODER.encode(
        [
            2,
            ev.calendar,
            ev.uid,
            ev.start.timestamp(),
            ev.end.timestamp(),
            ev.title,
            ev.description,
            ev.location,
            ev.all_day,
            ev.status,  # StrEnums: written as their values (without the slow ``.value`` lookup)
            ev.busy,
            ev.response,
            ev.private,
            ev.tag.encode() if ev.tag else None,
            ev.etag,
            ev.series,
            ev.recurrence_id,
            ev.attendees,
            ev.organizer_other,
        ]
    )


def _decode_tag(text: object) -> OwnedTag | None:
    if not text:
        return None
    try:
        return OwnedTag.decode(str(text))
    except ValueError:
        return None


def event_from_json(text: str) -> Event:
    d = json.loads(text)
    if isinstance(d, list):
        (
            _v,
            cal,
            uid,
            start,
            end,
            title,
            desc,
            loc,
            all_day,
            status,
            busy,
            resp,
            private,
            tag,
            etag,
            series,
            rid,
            attendees,
        ) = d[:18]
        return Event(
            calendar=cal,
            uid=uid,
            start=datetime.fromtimestamp(start, UTC),
            end=datetime.fromtimestamp(end, UTC),
            title=title,
            description=desc,
            location=loc,
            all_day=bool(all_day),
            status=_STATUS.get(status, Status.CONFIRMED),
            busy=bool(busy),
            response=_RESPONSE.get(resp, Response.NONE),
            private=bool(private),
            tag=_decode_tag(tag),
            etag=etag,
            series=series,
            recurrence_id=rid,
            attendees=int(attendees),
            organizer_other=bool(d[18]) if len(d) > 18 else False,
        )
    return Event(  # rows written by version 0.1.0 (a dict with ISO times)
        calendar=d["calendar"],
        uid=d["uid"],
        start=_dt(d["start"]),
        end=_dt(d["end"]),
        title=d.get("title", ""),
        description=d.get("description", ""),
        location=d.get("location", ""),
        all_day=bool(d.get("all_day", False)),
        status=Status(d.get("status", "confirmed")),
        busy=bool(d.get("busy", True)),
        response=Response(d.get("response", "none")),
        private=bool(d.get("private", False)),
        tag=_decode_tag(d.get("tag")),
        etag=d.get("etag", ""),
        series=d.get("series", ""),
        recurrence_id=d.get("recurrence_id", ""),
        attendees=int(d.get("attendees", 0)),
    )


class RowState(enum.StrEnum):
    """Where an owned event stands in the owned-event map."""

    LIVE = "live"
    """Seen on the calendar (or just written there)."""
    CREATING = "creating"
    """A create was sent and its answer not yet recorded."""
    DELETING = "deleting"
    """A delete was sent and its answer not yet recorded."""


@dataclass(frozen=True)
class OwnedRow:
    calendar: str
    key: str
    uid: str
    kind: Kind
    start: datetime
    end: datetime
    pays: Mapping[str, int]
    state: RowState
