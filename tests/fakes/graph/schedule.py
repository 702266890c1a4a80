"""``calendar/getSchedule``: other people's free/busy, validated against the action's parameters."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fakes.graph.schema import validator
from tests.fakes.graph.values import GraphError, _graph_time


class Schedule:
    """Other people's calendars as ``getSchedule`` sees them (a part of :class:`FakeGraph`)."""

    lock: threading.RLock

    def _init_schedule(self) -> None:
        self.schedules: dict[str, list[tuple[datetime, datetime, str]]] = {}
        """Other people's calendars for ``getSchedule``: address → (start, end, showAs) of their events."""
        self.personal_account = False
        """A personal Microsoft account: ``getSchedule`` is refused (work or school accounts only)."""

    def add_schedule_item(self, address: str, start: datetime, end: datetime, show_as: str = "busy") -> None:
        """Another person (``address``) has an event: ``getSchedule`` shows it as ``show_as``."""
        with self.lock:
            self.schedules.setdefault(address.lower(), []).append((start.astimezone(UTC), end.astimezone(UTC), show_as))

    def _get_schedule(self, body: Any) -> dict[str, Any]:
        """``POST /me/calendar/getSchedule``: the request validated against the action's parameters (names match
        case-insensitively, as Graph's do), a window under 62 days, at most 20 schedules."""
        if self.personal_account:
            raise GraphError(400, "ErrorInvalidUser", "getSchedule is not supported for personal Microsoft accounts.")
        if not isinstance(body, dict):
            raise GraphError(400, "RequestBodyRead", "The request body must be a JSON object.")
        action = validator().doc["paths"]["/users/{user-id}/calendar/microsoft.graph.getSchedule"]["post"]
        schema = action["requestBody"]["content"]["application/json"]["schema"]
        names = {k.lower(): k for k in schema["properties"]}
        unknown = [k for k in body if k.lower() not in names]
        if unknown:
            raise GraphError(
                400, "RequestBodyRead", f"The parameter '{unknown[0]}' in the request payload is not valid."
            )
        canonical = {names[k.lower()]: v for k, v in body.items()}
        problems = validator()._check(canonical, schema, "")
        if problems:
            raise GraphError(400, "RequestBodyRead", "; ".join(problems))
        schedules = canonical.get("Schedules") or []
        if not schedules or len(schedules) > 20:
            raise GraphError(400, "ErrorInvalidParameter", "Schedules must list 1 to 20 addresses.")
        try:
            start = _graph_time(canonical["StartTime"])
            end = _graph_time(canonical["EndTime"])
        except (KeyError, TypeError, ValueError):
            raise GraphError(400, "ErrorInvalidParameter", "StartTime and EndTime are required.") from None
        if end <= start:
            raise GraphError(400, "ErrorInvalidParameter", "EndTime must be after StartTime.")
        if end - start >= timedelta(days=62):
            raise GraphError(400, "ErrorInvalidTimeInterval", "The requested time duration exceeds 62 days.")
        interval = int(canonical.get("AvailabilityViewInterval") or 30)
        if not 5 <= interval <= 1440:
            raise GraphError(400, "ErrorInvalidParameter", "AvailabilityViewInterval must be 5 to 1440 minutes.")
        codes = {"free": "0", "tentative": "1", "busy": "2", "oof": "3", "workingElsewhere": "4"}
        value: list[dict[str, Any]] = []
        for address in schedules:
            items = self.schedules.get(str(address).lower())
            if items is None:
                value.append(
                    {
                        "scheduleId": address,
                        "availabilityView": "",
                        "scheduleItems": [],
                        "error": {
                            "message": "The mailbox was not found.",
                            "responseCode": "ErrorMailRecipientNotFound",
                        },
                    }
                )
                continue
            inside = sorted((s, e, show) for s, e, show in items if s < end and e > start)
            view = []
            t = start
            while t < end:
                slot_end = t + timedelta(minutes=interval)
                here = [codes.get(show, "2") for s, e, show in inside if s < slot_end and e > t]
                view.append(max(here, key=lambda c: {"0": 0, "4": 1, "1": 2, "2": 3, "3": 4}[c]) if here else "0")
                t = slot_end
            value.append(
                {
                    "scheduleId": address,
                    "availabilityView": "".join(view),
                    "scheduleItems": [
                        {
                            "isPrivate": False,
                            "status": show,
                            "start": {"dateTime": s.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": "UTC"},
                            "end": {"dateTime": e.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": "UTC"},
                        }
                        for s, e, show in inside
                    ],
                    "workingHours": {
                        "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
                        "startTime": "08:00:00.0000000",
                        "endTime": "17:00:00.0000000",
                        "timeZone": {"name": "UTC"},
                    },
                }
            )
        return {"value": value}
