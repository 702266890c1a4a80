"""Event writes: body validation, ``transactionId`` de-duplication, ``If-Match``, and mail a write would send."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from tests.fakes.graph.schema import _PROP_ID_RE, validator
from tests.fakes.graph.values import GraphError, StoredEvent, _graph_time


class Events:
    """Creating and changing events (a part of :class:`FakeGraph`)."""

    lock: threading.RLock
    calendars: dict[str, dict[str, Any]]
    events: dict[str, StoredEvent]
    mailed: list[tuple[str, str, str]]
    bodies: list[tuple[str, str, dict[str, Any]]]

    def _validate_event_body(self, body: Any, creating: bool) -> None:
        if not isinstance(body, dict):
            raise GraphError(400, "RequestBodyRead", "The request body must be a JSON object.")
        problems = validator().validate(body, "microsoft.graph.event")
        for p in body.get("singleValueExtendedProperties", []) or []:
            if (
                not isinstance(p, dict)
                or not _PROP_ID_RE.match(str(p.get("id", "")))
                or not isinstance(p.get("value"), str)
            ):
                problems.append(f"singleValueExtendedProperties: bad item {p!r}")
        if creating and ("start" not in body or "end" not in body):
            problems.append("start and end are required")
        for key in ("start", "end"):
            if key in body:
                try:
                    _graph_time(body[key])
                except (KeyError, ValueError, TypeError):
                    problems.append(f"{key}: not a valid dateTimeTimeZone")
        if problems:
            raise GraphError(400, "RequestBodyRead", "; ".join(problems))

    def _apply(self, ev: StoredEvent, body: dict[str, Any]) -> None:
        for key, value in body.items():
            if key == "start":
                ev.start = _graph_time(value)
                ev.zone = str(value.get("timeZone") or "UTC")
            elif key == "end":
                ev.end = _graph_time(value)
            elif key == "singleValueExtendedProperties":
                for p in value or []:
                    ev.ext[str(p["id"]).lower()] = (str(p["id"]), str(p["value"]))
            else:
                ev.props[key] = value

    def _create(self, cid: str, body: Any, prefer: dict[str, str]) -> tuple[int, dict[str, Any] | None, dict[str, str]]:
        if not self.calendars[cid]["canEdit"]:
            raise GraphError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        self._validate_event_body(body, creating=True)
        if isinstance(body, dict) and body.get("attendees"):
            self.mailed.append(("POST", cid, "created with attendees"))
        tx = body.get("transactionId")
        if tx:
            for ev in self.events.values():
                if ev.transaction_id == tx:
                    return 201, self.render(ev, prefer.get("outlook.timezone"), None), {}
        ev = StoredEvent(id=self._new_id(), calendar=cid, start=datetime.now(UTC), end=datetime.now(UTC))
        ev.props.update({"type": "singleInstance", "isOrganizer": True})
        self._apply(ev, body)
        self.events[ev.id] = ev
        self._touch(ev)
        self.bodies.append(("POST", cid, body))
        return 201, self.render(ev, prefer.get("outlook.timezone"), None), {}

    def _patch(
        self, ev: StoredEvent, body: Any, prefer: dict[str, str]
    ) -> tuple[int, dict[str, Any] | None, dict[str, str]]:
        self._validate_event_body(body, creating=False)
        if "transactionId" in body and body["transactionId"] != ev.transaction_id:
            raise GraphError(400, "ErrorInvalidRequest", "transactionId cannot be changed.")
        self._apply(ev, body)
        self._touch(ev)
        self.bodies.append(("PATCH", ev.id, body))
        return 200, self.render(ev, prefer.get("outlook.timezone"), None), {}

    def check_if_match(self, method: str, path: str, header: str | None) -> None:
        if header is None or method not in ("PATCH", "DELETE"):
            return
        parts = [unquote(p) for p in path.split("/") if p]
        with self.lock:
            ev = self.events.get(parts[-1]) if len(parts) >= 2 and parts[-2] == "events" else None
            if ev is None:
                return
            want = header.strip()
            want = want[2:] if want.startswith("W/") else want
            if want.strip('"') != ev.change_key:
                raise GraphError(
                    412,
                    "ErrorIrresolvableConflict",
                    "The change key passed in the request does not match the current change key for the item.",
                )


def _is_meeting(props: Mapping[str, Any]) -> bool:
    """Graph mails attendees when a meeting is changed or deleted (there is no way to stop it)."""
    return bool(props.get("attendees")) or props.get("isOrganizer", True) is False
