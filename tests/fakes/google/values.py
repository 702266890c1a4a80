"""Google's JSON value forms: RFC 3339 stamps, ``start``/``end`` objects, URL-safe base64, patch merging."""

from __future__ import annotations

import base64
import copy
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo


def _rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _when(value: Mapping[str, Any], zone: ZoneInfo) -> datetime:
    if value.get("dateTime"):
        dt = datetime.fromisoformat(str(value["dateTime"]))
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=ZoneInfo(str(value["timeZone"])))
        return dt
    d = date.fromisoformat(str(value["date"]))
    return datetime(d.year, d.month, d.day, tzinfo=zone)


def _merge(target: dict[str, Any], patch: Mapping[str, Any], depth: int = 0) -> None:
    """Patch semantics: objects merge (``start``/``end`` are replaced), lists replace, null clears."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif (
            isinstance(value, dict)
            and isinstance(target.get(key), dict)
            and not (depth == 0 and key in ("start", "end"))
        ):
            _merge(target[key], value, depth + 1)
        else:
            target[key] = copy.deepcopy(value)
