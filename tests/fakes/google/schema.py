"""What the discovery document shipped with ``googleapiclient`` says: methods, parameters, schemas; Google's errors."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from email.message import Message
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import googleapiclient

_DOC_PATH = os.path.join(os.path.dirname(googleapiclient.__file__), "discovery_cache", "documents", "calendar.v3.json")
with open(_DOC_PATH, encoding="utf-8") as _fh:
    DISCOVERY: dict[str, Any] = json.load(_fh)
SCHEMAS: dict[str, Any] = DISCOVERY["schemas"]
STANDARD_PARAMS = frozenset(DISCOVERY["parameters"]) | {"$.xgafv", "access_token", "callback", "uploadType"}
METHODS: dict[str, Any] = {
    **{f"events.{k}": v for k, v in DISCOVERY["resources"]["events"]["methods"].items()},
    **{f"calendarList.{k}": v for k, v in DISCOVERY["resources"]["calendarList"]["methods"].items()},
    **{f"freebusy.{k}": v for k, v in DISCOVERY["resources"]["freebusy"]["methods"].items()},
}
AUTO_DECLINE_MODES = frozenset(
    {"declineNone", "declineAllConflictingInvitations", "declineOnlyNewConflictingInvitations"}
)
FREEBUSY_MAX_CALENDARS = 50
FREEBUSY_MAX_SPAN = timedelta(days=90)
"""Google answers ``timeRangeTooLong`` past about three months."""

SYNC_FORBIDDEN = frozenset(
    {"timeMin", "timeMax", "orderBy", "q", "updatedMin", "iCalUID", "privateExtendedProperty", "sharedExtendedProperty"}
)
BASE32HEX = frozenset("0123456789abcdefghijklmnopqrstuv")
EVENT_TYPES = frozenset({"default", "outOfOffice", "focusTime", "workingLocation", "fromGmail", "birthday"})
STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    410: "GONE",
    412: "FAILED_PRECONDITION",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


class ApiFailure(Exception):
    """An error response in Google's format."""

    def __init__(
        self, status: int, reason: str, message: str, domain: str = "global", headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.domain = domain
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "code": self.status,
            "message": self.message,
            "errors": [{"domain": self.domain, "reason": self.reason, "message": self.message}],
        }
        if self.status in STATUS_NAMES:
            error["status"] = STATUS_NAMES[self.status]
        return {"error": error}


def bad_request(message: str, reason: str = "badRequest") -> ApiFailure:
    return ApiFailure(400, reason, message)


def _json_object(headers: Message, raw: bytes) -> dict[str, Any]:
    ctype = headers.get("Content-Type", "")
    if "json" not in ctype.lower():
        raise bad_request(f"Unsupported content type {ctype!r}")
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        raise bad_request("Parse Error", "parseError") from None
    if not isinstance(body, dict):
        raise bad_request("Invalid JSON payload: expected an object", "parseError")
    return body


def _parse_rfc3339(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise bad_request(f"Bad Request: invalid date-time {text!r}", "badRequest") from None
    if value.tzinfo is None:
        raise bad_request(f"Bad Request: date-time without offset {text!r}", "badRequest")
    return value.astimezone(UTC)


def validate(value: Any, schema: Mapping[str, Any], where: str) -> None:
    """Validate ``value`` against a discovery-document schema (unknown fields → 400)."""
    if "$ref" in schema:
        schema = SCHEMAS[schema["$ref"]]
    if value is None:
        return  # JSON null: "clear this field" in a patch
    kind = schema.get("type")
    if kind == "object":
        if not isinstance(value, dict):
            raise bad_request(f"Invalid value at '{where}': expected an object")
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if key in props:
                validate(item, props[key], f"{where}.{key}")
            elif extra is not None:
                validate(item, extra, f"{where}.{key}")
            else:
                raise bad_request(
                    f"Invalid JSON payload received. Unknown name \"{key}\" at '{where}': Cannot find field."
                )
    elif kind == "array":
        if not isinstance(value, list):
            raise bad_request(f"Invalid value at '{where}': expected a list")
        for i, item in enumerate(value):
            validate(item, schema.get("items") or {}, f"{where}[{i}]")
    elif kind == "string":
        if schema.get("format") == "int64" and isinstance(value, int) and not isinstance(value, bool):
            return
        if not isinstance(value, str):
            raise bad_request(f"Invalid value at '{where}' (TYPE_STRING), {json.dumps(value)}")
        fmt = schema.get("format")
        try:
            if fmt == "date-time":
                datetime.fromisoformat(value)
            elif fmt == "date":
                date.fromisoformat(value)
        except ValueError:
            raise bad_request(f"Invalid value at '{where}': bad {fmt} {value!r}", "invalid") from None
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise bad_request(f"Invalid value at '{where}' (TYPE_BOOL), {json.dumps(value)}")
    elif kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad_request(f"Invalid value at '{where}' (TYPE_INT32), {json.dumps(value)}")
    elif kind == "number" and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise bad_request(f"Invalid value at '{where}' (TYPE_DOUBLE), {json.dumps(value)}")


def _check_when(value: Any, name: str) -> None:
    if not isinstance(value, dict):
        raise bad_request(f"Missing {name} time.", "required")
    has_date, has_dt = bool(value.get("date")), bool(value.get("dateTime"))
    if has_date == has_dt:
        raise bad_request(f"Invalid {name} time: exactly one of date and dateTime is needed.", "invalid")
    tz = value.get("timeZone")
    if tz:
        try:
            ZoneInfo(str(tz))
        except (ZoneInfoNotFoundError, ValueError):
            raise bad_request(f"Invalid time zone definition for {name} time.", "invalid") from None
    if has_dt:
        dt = datetime.fromisoformat(str(value["dateTime"]))
        if dt.tzinfo is None and not tz:
            raise bad_request(f"Missing time zone definition for {name} time.", "missingTimeZone")  # Google's wording


def check_params(name: str, query: dict[str, list[str]]) -> dict[str, str]:
    """The query parameters of method ``name``, checked against the discovery document (unknown → 400)."""
    spec = METHODS[name].get("parameters") or {}
    out: dict[str, str] = {}
    for key, values in query.items():
        if key in STANDARD_PARAMS:
            continue
        if key not in spec or spec[key].get("location") == "path":
            raise bad_request(f"Invalid parameter {key!r} for {name}", "invalidParameter")
        if len(values) > 1 and not spec[key].get("repeated"):
            raise bad_request(f"Parameter {key!r} given twice", "invalidParameter")
        value = values[-1] if not spec[key].get("repeated") else "\x00".join(values)
        kind = spec[key].get("type")
        if kind == "boolean" and value not in ("true", "false"):
            raise bad_request(f"Invalid boolean value for {key}: {value!r}", "invalidParameter")
        if kind == "integer":
            try:
                int(value)
            except ValueError:
                raise bad_request(f"Invalid integer value for {key}: {value!r}", "invalidParameter") from None
        out[key] = value
    return out
