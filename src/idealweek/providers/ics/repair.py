"""Parse-and-repair: the bytes of an iCalendar file as icalendar calendars, as leniently as real files need.

A UTF-8 BOM, stray blank lines, mixed line endings and a bare VEVENT without
VCALENDAR are repaired before parsing.  When icalendar refuses the file as a
whole, it is rebuilt VEVENT by VEVENT (with the calendar's header and the
VTIMEZONEs that parse); an event that still fails is skipped with an
``ics.event_skipped`` warning naming the source and its UID.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

import structlog

from idealweek.errors import ProviderError
from idealweek.providers.ics.zones import lookup_zone

if TYPE_CHECKING:
    import icalendar

log = structlog.get_logger(__name__)

_EXCHANGE_TZID_RE = re.compile(r';TZID="?(tzone://Microsoft/[^";:,\r\n]*)"?', re.IGNORECASE)
_UID_RE = re.compile(rb"^UID[;:](?:[^:\r\n]*:)?([^\r\n]*)", re.MULTILINE | re.IGNORECASE)


def fingerprint(data: bytes) -> str:
    """The etag idealweek uses for local ICS data: a sha256 prefix of the bytes."""
    return hashlib.sha256(data).hexdigest()[:32]


def is_calendar(data: bytes) -> bool:
    """True when ``data`` looks like iCalendar data: a VCALENDAR, or a bare VEVENT/VTIMEZONE."""
    head = data[:65536].upper()
    return any(marker in head for marker in (b"BEGIN:VCALENDAR", b"BEGIN:VEVENT", b"BEGIN:VTIMEZONE"))


def decode(data: bytes) -> str:
    """The text of ``data`` with CRLF line ends, no blank lines, wrapped in a VCALENDAR when bare."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    text = data.decode("utf-8", errors="replace")
    # Normalise line endings and drop blank lines (seen in the wild; icalendar dislikes them).
    lines = [ln for ln in text.replace("\r\n", "\n").replace("\r", "\n").split("\n") if ln.strip()]
    first = next((ln.strip().upper() for ln in lines if ln.strip().upper().startswith("BEGIN:")), "")
    if first != "BEGIN:VCALENDAR":
        # A bare VEVENT / VTIMEZONE (seen in exports and test data): wrap it.
        lines = ["BEGIN:VCALENDAR", "VERSION:2.0", *lines, "END:VCALENDAR"]
    return _exchange_tzids("\r\n".join(lines) + "\r\n")


def _exchange_tzids(text: str) -> str:
    """``TZID="tzone://Microsoft/Utc"`` (Outlook/Exchange exports) → ``TZID=UTC``; likewise Windows names.

    A form no zone is known for (``tzone://Microsoft/Custom``) is left to its VTIMEZONE.
    """
    if "tzone://" not in text and "TZONE://" not in text.upper():
        return text

    def sub(m: re.Match[str]) -> str:
        found = lookup_zone(m.group(1))
        return f";TZID={found.key}" if found is not None else m.group(0)

    return _EXCHANGE_TZID_RE.sub(sub, text)


def _drop_alarms(lines: list[str]) -> list[str]:
    """Remove VALARM components: idealweek never needs them and they often carry broken values."""
    out: list[str] = []
    depth = 0
    for line in lines:
        up = line.strip().upper()
        if up == "BEGIN:VALARM":
            depth += 1
        elif up == "END:VALARM" and depth:
            depth -= 1
            continue
        if not depth:
            out.append(line)
    return out


Span = tuple[datetime, datetime]


def read_calendars(data: bytes, source: str, window: Span | None = None) -> list[icalendar.Calendar]:
    """The calendars in the bytes of one iCalendar file, repaired; ProviderError when it is not one.

    With ``window``, single events that plainly lie outside it are not parsed at all (:func:`prefilter`).
    """
    if not is_calendar(data):
        raise ProviderError(f"{source}: not an iCalendar file (no BEGIN:VCALENDAR)")
    text = decode(data)
    return parse_calendars(prefilter(text, window) if window is not None else text, source)


_RECURRENCE = frozenset({"RRULE", "RDATE", "EXRULE", "RECURRENCE-ID"})
_DURATION_RE = re.compile(r"^\+?P(?:(\d+)W)?(?:(\d+)D)?(?:T[\dHMS]*)?$")
PREFILTER_MARGIN = timedelta(days=3)
"""Slack around the window for time zones (UTC-12 to UTC+14) and all-day events."""


def _day(value: str) -> date | None:
    digits = value.strip()[:8]
    if len(digits) != 8 or not digits.isdigit():
        return None
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return None


def _span(block: list[str]) -> tuple[date, date] | None:
    """The first and last day a single (non-recurring) VEVENT may touch, read from its text.

    None when the event recurs or anything is unclear: such an event is always parsed.
    """
    found: dict[str, str] = {}
    depth = 0
    for line in block[1:-1]:
        if line[:1] in (" ", "\t"):
            continue
        up = line.upper()
        if up.startswith("BEGIN:"):
            depth += 1
        elif up.startswith("END:"):
            depth -= 1
        if depth:
            continue  # VALARM and other nested components have their own DURATION
        name = up.split(":", 1)[0].split(";", 1)[0]
        if name in _RECURRENCE:
            return None
        if name in ("DTSTART", "DTEND", "DURATION"):
            if name in found or ":" not in line:
                return None
            found[name] = line.rsplit(":", 1)[1]
    start = _day(found.get("DTSTART", ""))
    if start is None:
        return None
    if "DTEND" in found:
        end = _day(found["DTEND"])
    elif "DURATION" in found:
        m = _DURATION_RE.match(found["DURATION"].strip().upper())
        end = start + timedelta(days=7 * int(m.group(1) or 0) + int(m.group(2) or 0) + 1) if m else None
    else:
        end = start + timedelta(days=1)
    return (start, max(start, end)) if end is not None else None


def prefilter(text: str, window: Span) -> str:
    """``text`` without the single VEVENTs that plainly lie outside ``window`` (a few days of slack kept).

    Parsing is most of the cost of reading a large calendar, and most of its events
    lie outside the planning window.  Recurring events, overrides and anything whose
    dates cannot be read from the text are kept.
    """
    lo = window[0].astimezone(UTC).date() - PREFILTER_MARGIN
    hi = window[1].astimezone(UTC).date() + PREFILTER_MARGIN
    out: list[str] = []
    block: list[str] = []
    depth = 0
    for line in text.split("\r\n"):
        up = line.strip().upper()
        if block:
            block.append(line)
            if up.startswith("BEGIN:"):
                depth += 1
            elif up.startswith("END:"):
                depth -= 1
                if depth == 0:
                    span = _span(block)
                    if span is None or (span[1] >= lo and span[0] <= hi):
                        out += block
                    block = []
            continue
        if up == "BEGIN:VEVENT":
            block, depth = [line], 1
            continue
        out.append(line)
    out += block  # an unterminated VEVENT is left to the parser's recovery
    return "\r\n".join(out)


def parse_calendars(text: str, source: str) -> list[icalendar.Calendar]:
    """Parse the text into one or more calendars, recovering per VEVENT when the whole fails."""
    import icalendar

    try:
        cal = icalendar.Calendar.from_ical(text)
    except Exception as exc:  # noqa: BLE001 - icalendar raises many kinds; recover below
        log.info("ics.recovering", source=source, reason=f"{type(exc).__name__}: {exc}"[:200])
    else:
        if isinstance(cal, icalendar.Calendar):
            return [cal]
    return _recover(text, source)


def _blocks(lines: list[str], name: str) -> Iterator[list[str]]:
    """Top-level ``BEGIN:name``..``END:name`` blocks (nesting aware)."""
    depth = 0
    cur: list[str] = []
    begin, end = f"BEGIN:{name}", f"END:{name}"
    for line in lines:
        up = line.strip().upper()
        if depth == 0 and up == begin:
            depth = 1
            cur = [line]
            continue
        if depth > 0:
            cur.append(line)
            if up == begin:
                depth += 1
            elif up == end:
                depth -= 1
                if depth == 0:
                    yield cur


def _header(lines: list[str]) -> list[str]:
    """The calendar-level property lines (X-WR-TIMEZONE, CALSCALE...), without components."""
    out: list[str] = []
    depth = 0
    for line in lines:
        up = line.upper()
        if up.startswith("BEGIN:"):
            depth += 1
            continue
        if up.startswith("END:"):
            depth -= 1
            continue
        if depth == 1 and not line[:1].isspace():
            out.append(line)
        elif depth == 1 and out:
            out[-1] += line[1:]
    return out


def _recover(text: str, source: str) -> list[icalendar.Calendar]:
    """Rebuild a usable calendar per VEVENT from a file icalendar refuses as a whole."""
    import icalendar

    lines = _drop_alarms(text.split("\r\n"))
    header = _header(lines)
    timezones: list[list[str]] = []
    for block in _blocks(lines, "VTIMEZONE"):
        try:
            icalendar.Calendar.from_ical("\r\n".join(["BEGIN:VCALENDAR", *block, "END:VCALENDAR", ""]))
        except Exception:  # noqa: BLE001 - a broken VTIMEZONE is dropped; its TZID may still resolve
            continue
        timezones.append(block)
    tz_lines = [ln for block in timezones for ln in block]
    cals: list[icalendar.Calendar] = []
    for block in _blocks(lines, "VEVENT"):
        last_exc: Exception | None = None
        for head in (header, []):
            doc = "\r\n".join(["BEGIN:VCALENDAR", *head, *tz_lines, *block, "END:VCALENDAR", ""])
            try:
                cal = icalendar.Calendar.from_ical(doc)
            except Exception as exc:  # noqa: BLE001
                last_exc = exc
                continue
            if isinstance(cal, icalendar.Calendar):
                cals.append(cal)
                last_exc = None
                break
        if last_exc is not None:
            m = _UID_RE.search("\r\n".join(block).encode())
            uid = m.group(1).decode().strip() if m else ""
            log.warning("ics.event_skipped", source=source, uid=uid or "(no UID)", reason=str(last_exc)[:200])
    return cals


__all__ = ["decode", "fingerprint", "is_calendar", "parse_calendars", "prefilter", "read_calendars"]
