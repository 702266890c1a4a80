"""ICS parsing shared by the local providers, and the read-only :class:`IcsProvider`.

:func:`parse_ics` turns the bytes of one iCalendar file into provider-neutral
:class:`~idealweek.model.Event` values, one per occurrence inside a window.  It
is lenient the way real-world files need: a bad event is skipped with a
``ics.event_skipped`` warning naming the source and the UID, and the rest of
the file is used.  Only a file that is not a calendar at all raises
:class:`~idealweek.errors.ProviderError`.

Time-zone rules, in order:

* a TZID icalendar could resolve (VTIMEZONE, IANA name, Windows name, globally
  unique ``/vendor/Area/City``) is used — except that a VTIMEZONE whose TZID is
  a Windows zone name is replaced by the IANA zone it maps to;
* a date-time without a zone (floating, or a TZID nobody knows) is read in the
  calendar's ``X-WR-TIMEZONE`` when that is a known zone, else in the
  configured zone;
* an all-day event (DATE values) runs from local midnight to midnight in the
  configured zone.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog

from idealweek.errors import NotOwned, ProviderError, TransientError
from idealweek.model import TAG_PROPERTY, DesiredEvent, Event, OwnedTag, Response, Status
from idealweek.providers.base import ChangeSet, RequestCounter

if TYPE_CHECKING:
    import icalendar
    import requests

log = structlog.get_logger(__name__)

TAG_ICS_PROPERTY = "X-" + TAG_PROPERTY.upper()
"""The X- property that carries idealweek's ownership tag in ICS data."""

DEFAULT_PAST = timedelta(days=60)
DEFAULT_FUTURE = timedelta(days=400)

Window = tuple[datetime, datetime]
Clock = Callable[[], datetime]

_SINGLE_VALUED = ("UID", "DTSTART", "DTEND", "DURATION", "RECURRENCE-ID", "SUMMARY", "STATUS", "TRANSP", "CLASS")
_NO_UID = "nouid-"
_UID_RE = re.compile(rb"^UID[;:](?:[^:\r\n]*:)?([^\r\n]*)", re.MULTILINE | re.IGNORECASE)

_FALLBACK_WINDOWS = {
    "W. Europe Standard Time": "Europe/Berlin",
    "Romance Standard Time": "Europe/Paris",
    "Central Europe Standard Time": "Europe/Budapest",
    "GMT Standard Time": "Europe/London",
    "Eastern Standard Time": "America/New_York",
    "Central Standard Time": "America/Chicago",
    "Mountain Standard Time": "America/Denver",
    "Pacific Standard Time": "America/Los_Angeles",
    "Tokyo Standard Time": "Asia/Tokyo",
    "New Zealand Standard Time": "Pacific/Auckland",
    "AUS Eastern Standard Time": "Australia/Sydney",
    "UTC": "UTC",
}


def _windows_table() -> dict[str, str]:
    try:
        from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON
    except ImportError:  # pragma: no cover - icalendar always ships it today
        return dict(_FALLBACK_WINDOWS)
    return {str(k): str(v) for k, v in WINDOWS_TO_OLSON.items()}


WINDOWS_TO_IANA: dict[str, str] = _windows_table()


def default_window(now: datetime) -> Window:
    """The default read window: 60 days back to 400 days ahead, on whole UTC days.

    Rounding to the day keeps the change token stable within a day.
    """
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - DEFAULT_PAST, day + DEFAULT_FUTURE


def system_clock() -> datetime:
    """The real clock (the default injected into the providers)."""
    return datetime.now(UTC)


def lookup_zone(name: str) -> ZoneInfo | None:
    """An IANA zone for a TZID: IANA names, Windows names, ``/vendor/Area/City``; None when unknown."""
    cleaned = name.strip().strip('"').strip()
    candidates = [cleaned, WINDOWS_TO_IANA.get(cleaned, "")]
    if cleaned.startswith("/"):
        parts = cleaned.strip("/").split("/")
        candidates += ["/".join(parts[i:]) for i in range(len(parts))]
    for cand in candidates:
        if not cand or cand.startswith("/") or ".." in cand:
            continue
        try:
            return ZoneInfo(cand)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            continue
    return None


def fingerprint(data: bytes) -> str:
    """The etag idealweek uses for local ICS data: a sha256 prefix of the bytes."""
    return hashlib.sha256(data).hexdigest()[:32]


def is_calendar(data: bytes) -> bool:
    """True when ``data`` looks like iCalendar data: a VCALENDAR, or a bare VEVENT/VTIMEZONE."""
    head = data[:65536].upper()
    return any(marker in head for marker in (b"BEGIN:VCALENDAR", b"BEGIN:VEVENT", b"BEGIN:VTIMEZONE"))


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    text = data.decode("utf-8", errors="replace")
    # Normalise line endings and drop blank lines (seen in the wild; icalendar dislikes them).
    lines = [ln for ln in text.replace("\r\n", "\n").replace("\r", "\n").split("\n") if ln.strip()]
    first = next((ln.strip().upper() for ln in lines if ln.strip().upper().startswith("BEGIN:")), "")
    if first != "BEGIN:VCALENDAR":
        # A bare VEVENT / VTIMEZONE (seen in exports and test data): wrap it.
        lines = ["BEGIN:VCALENDAR", "VERSION:2.0", *lines, "END:VCALENDAR"]
    return "\r\n".join(lines) + "\r\n"


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


# --------------------------------------------------------------------------- parsing


@dataclass(frozen=True, slots=True)
class _Ctx:
    source: str
    calendar: str
    zone: ZoneInfo
    floating: tzinfo
    etag: str


def _warn(ctx: _Ctx, uid: str, reason: str) -> None:
    shown = "(no UID)" if not uid or uid.startswith(_NO_UID) else uid
    log.warning("ics.event_skipped", source=ctx.source, uid=shown, reason=reason)


def _parse_calendars(text: str, source: str) -> list[icalendar.Calendar]:
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


def _floating_zone(cal: icalendar.Calendar, zone: ZoneInfo) -> tzinfo:
    raw = cal.get("X-WR-TIMEZONE")
    if raw is None:
        return zone
    found = lookup_zone(str(raw[0] if isinstance(raw, list) else raw))
    return found if found is not None else zone


def _tz_name(tz: tzinfo) -> str:
    for attr in ("key", "_tzid", "zone"):
        value = getattr(tz, attr, None)
        if isinstance(value, str):
            return value
    return ""


def _fix_zone(value: datetime, fallback: tzinfo) -> datetime:
    """Make ``value`` aware: floating → ``fallback``; VTIMEZONE named like a Windows zone → IANA."""
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=fallback)
    if not isinstance(value.tzinfo, ZoneInfo):
        name = _tz_name(value.tzinfo)
        iana = WINDOWS_TO_IANA.get(name.strip())
        if iana:
            found = lookup_zone(iana)
            if found is not None:
                return value.replace(tzinfo=found)
    return value


def _normalise(comp: icalendar.cal.Component) -> None:
    for key in _SINGLE_VALUED:
        value = comp.get(key)
        if isinstance(value, list) and value:
            comp[key] = value[0]


def _uid_of(comp: icalendar.cal.Component) -> str:
    value = comp.get("UID")
    return str(value).strip() if value is not None else ""


def _prepare(cal: icalendar.Calendar, ctx: _Ctx, default_uid: str) -> tuple[dict[str, list[Any]], set[str]]:
    """Group VEVENTs by UID (giving UID-less ones one), normalise, note recurring series.

    Events without DTSTART are removed from the calendar with a warning.
    """
    groups: dict[str, list[Any]] = {}
    recurring: set[str] = set()
    for comp in list(cal.subcomponents):
        if comp.name == "VEVENT" and comp.get("DTSTART") is None:
            _warn(ctx, _uid_of(comp), "no DTSTART")
            cal.subcomponents.remove(comp)
    for n, comp in enumerate(cal.walk("VEVENT")):
        _normalise(comp)
        uid = _uid_of(comp)
        if not uid:
            if default_uid:
                uid = default_uid if n == 0 else f"{default_uid}-{n}"
            else:
                uid = _NO_UID + hashlib.sha256(comp.to_ical()).hexdigest()[:16]
            comp["UID"] = uid
        groups.setdefault(uid, []).append(comp)
        if any(k in comp for k in ("RRULE", "RDATE", "RECURRENCE-ID")):
            recurring.add(uid)
    return groups, recurring


MAX_OCCURRENCES = 20_000
"""Occurrences one calendar may expand to inside the window; more is treated as hostile input."""
_SUB_HOURLY = ("SECONDLY", "MINUTELY")


def _expand(cal: icalendar.Calendar, lo: datetime, hi: datetime) -> list[Any]:
    """Occurrences in ``[lo, hi)``; refuses sub-hourly rules and runaway expansions instead of hanging."""
    import recurring_ical_events

    for comp in cal.walk("VEVENT"):
        rules = comp.get("RRULE")
        for rule in rules if isinstance(rules, list) else [rules] if rules is not None else []:
            freq = [str(f).upper() for f in (rule.get("FREQ") or [])]
            if any(f in _SUB_HOURLY for f in freq):
                raise ValueError(f"recurrence FREQ={freq[0]} is not supported (sub-hourly)")
    out: list[Any] = []
    for occ in recurring_ical_events.of(cal).after(lo):
        start = occ.get("DTSTART")
        value = getattr(start, "dt", None)
        if isinstance(value, datetime) and value.tzinfo is not None and value >= hi:
            break
        if isinstance(value, date) and not isinstance(value, datetime) and value >= hi.date():
            break
        out.append(occ)
        if len(out) > MAX_OCCURRENCES:
            raise ValueError(f"more than {MAX_OCCURRENCES} occurrences in the window")
    return out


def _subcalendar(cal: icalendar.Calendar, comps: Sequence[Any]) -> icalendar.Calendar:
    import icalendar

    sub = icalendar.Calendar()
    for key, value in cal.items():
        sub[key] = value
    for tz in cal.walk("VTIMEZONE"):
        sub.add_component(tz)
    for comp in comps:
        sub.add_component(comp)
    return sub


def _dt(comp: Any, key: str) -> date | datetime | None:
    prop = comp.get(key)
    if prop is None:
        return None
    value = prop.dt
    if isinstance(value, date):
        return value
    return None


def _text(comp: Any, key: str) -> str:
    value = comp.get(key)
    if value is None:
        return ""
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value)


def _rid_text(value: date | datetime, floating: tzinfo) -> str:
    if isinstance(value, datetime):
        return _fix_zone(value, floating).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return value.strftime("%Y%m%d")


def _to_event(occ: Any, ctx: _Ctx, series: str, recurring: bool) -> Event | None:
    """One occurrence → Event; None when cancelled.  Raises on malformed data."""
    status_text = _text(occ, "STATUS").upper()
    if status_text == "CANCELLED":
        return None
    start_raw = _dt(occ, "DTSTART")
    if start_raw is None:
        raise ValueError("no DTSTART")
    end_raw = _dt(occ, "DTEND")
    duration: timedelta | None = None
    if end_raw is None and occ.get("DURATION") is not None:
        dur = occ["DURATION"].dt
        if isinstance(dur, timedelta):
            duration = dur
    all_day = not isinstance(start_raw, datetime)
    if all_day:
        start = datetime.combine(start_raw, time(), ctx.zone)
        if isinstance(end_raw, datetime):
            end_day = _fix_zone(end_raw, ctx.zone).astimezone(ctx.zone).date()
        elif isinstance(end_raw, date):
            end_day = end_raw
        elif duration is not None:
            end_day = start_raw + timedelta(days=max(1, duration.days))
        else:
            end_day = start_raw + timedelta(days=1)
        if end_day <= start_raw:
            end_day = start_raw + timedelta(days=1)
        end = datetime.combine(end_day, time(), ctx.zone)
    else:
        assert isinstance(start_raw, datetime)
        start = _fix_zone(start_raw, ctx.floating)
        if isinstance(end_raw, datetime):
            end = _fix_zone(end_raw, start.tzinfo or ctx.floating)
        elif isinstance(end_raw, date):
            end = datetime.combine(end_raw, time(), start.tzinfo)
        elif duration is not None:
            # RFC 5545: whole days are nominal (same wall-clock time), the rest is exact.
            nominal = start + timedelta(days=duration.days)
            end = nominal.astimezone(UTC) + (duration - timedelta(days=duration.days))
        else:
            end = start
    rid = ""
    if recurring:
        rid_raw = _dt(occ, "RECURRENCE-ID") or start_raw
        rid = _rid_text(rid_raw, ctx.floating)
    uid = f"{series}@{rid}" if rid else series
    tag = decode_tag(_text(occ, TAG_ICS_PROPERTY))
    attendees = occ.get("ATTENDEE")
    n_att = len(attendees) if isinstance(attendees, list) else (1 if attendees is not None else 0)
    return Event(
        calendar=ctx.calendar,
        uid=uid,
        start=start.astimezone(UTC),
        end=end.astimezone(UTC),
        title=_text(occ, "SUMMARY"),
        description=_text(occ, "DESCRIPTION"),
        location=_text(occ, "LOCATION"),
        all_day=all_day,
        status=Status.TENTATIVE if status_text == "TENTATIVE" else Status.CONFIRMED,
        busy=_text(occ, "TRANSP").upper() != "TRANSPARENT",
        response=Response.NONE,
        private=_text(occ, "CLASS").upper() in ("PRIVATE", "CONFIDENTIAL"),
        tag=tag,
        etag=ctx.etag,
        series=series,
        recurrence_id=rid,
        attendees=n_att,
    )


def decode_tag(text: str) -> OwnedTag | None:
    """The owned tag in an ``X-IDEALWEEK`` value; None when absent or invalid.

    Tolerates TEXT escaping (``\\,`` ``\\;``) added by other clients that rewrote the file.
    """
    if not text:
        return None
    for candidate in (text, text.replace("\\,", ",").replace("\\;", ";").replace("\\\\", "\\")):
        try:
            return OwnedTag.decode(candidate)
        except ValueError:
            continue
    return None


def _in_window(ev: Event, lo: datetime, hi: datetime) -> bool:
    if ev.start == ev.end:
        return lo <= ev.start < hi
    return ev.start < hi and ev.end > lo


def _events_of_group(
    cal: icalendar.Calendar, uid: str, comps: Sequence[Any], ctx: _Ctx, recurring: bool, lo: datetime, hi: datetime
) -> list[Event]:
    try:
        occurrences = _expand(_subcalendar(cal, comps), lo, hi)
    except Exception as exc:  # noqa: BLE001 - one bad series must not hide the others
        _warn(ctx, uid, f"cannot expand: {type(exc).__name__}: {exc}"[:300])
        return []
    return _convert(occurrences, ctx, {uid} if recurring else set())


def _convert(occurrences: Iterable[Any], ctx: _Ctx, recurring: set[str]) -> list[Event]:
    out: list[Event] = []
    failed: set[str] = set()
    for occ in occurrences:
        series = _uid_of(occ)
        try:
            ev = _to_event(occ, ctx, series, series in recurring)
        except Exception as exc:  # noqa: BLE001
            if series not in failed:
                failed.add(series)
                _warn(ctx, series, f"{type(exc).__name__}: {exc}"[:300])
            continue
        if ev is not None:
            out.append(ev)
    return out


def parse_ics(
    data: bytes,
    *,
    source: str,
    calendar: str,
    zone: ZoneInfo,
    window: Window,
    etag: str | None = None,
    default_uid: str = "",
) -> list[Event]:
    """All event occurrences of one iCalendar file that touch ``window``, in UTC.

    Cancelled occurrences are left out.  Bad events are skipped with a
    warning; :class:`ProviderError` only when ``data`` is not a calendar.
    ``default_uid`` names an event that has no UID (vdir: the file name).
    """
    if not is_calendar(data):
        raise ProviderError(f"{source}: not an iCalendar file (no BEGIN:VCALENDAR)")
    lo, hi = window
    # Floating and all-day times are only placed in a zone after expansion: query a day wider.
    qlo, qhi = lo - timedelta(days=2), hi + timedelta(days=2)
    tag = etag if etag is not None else fingerprint(data)
    events: list[Event] = []
    for cal in _parse_calendars(_decode(data), source):
        ctx = _Ctx(source, calendar, zone, _floating_zone(cal, zone), tag)
        groups, recurring = _prepare(cal, ctx, default_uid)
        if not groups:
            continue
        try:
            occurrences = _expand(cal, qlo, qhi)
        except Exception:  # noqa: BLE001 - retry series by series to find the bad one
            for uid, comps in groups.items():
                events += _events_of_group(cal, uid, comps, ctx, uid in recurring, qlo, qhi)
        else:
            events += _convert(occurrences, ctx, recurring)
    return _unique([e for e in events if _in_window(e, lo, hi)])


def _unique(events: list[Event]) -> list[Event]:
    """Give each event a unique uid (several VEVENTs with one UID and no RECURRENCE-ID exist)."""
    seen: set[str] = set()
    out: list[Event] = []
    for ev in sorted(events, key=lambda e: (e.uid, e.start, e.end, e.title)):
        uid = ev.uid
        if uid in seen:
            uid = f"{ev.series or ev.uid}@{ev.start:%Y%m%dT%H%M%SZ}"
            if uid in seen:
                continue
            from dataclasses import replace

            ev = replace(ev, uid=uid)
        seen.add(uid)
        out.append(ev)
    return out


# --------------------------------------------------------------------------- provider


def redact_url(url: str) -> str:
    """A URL fit for logs and messages: private ICS feed URLs carry secrets in path and query."""
    parts = urlsplit(url)
    last = parts.path.rstrip("/").rsplit("/", 1)[-1]
    if len(last) > 40:
        last = last[:8] + "…"
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return f"{parts.scheme}://{host}/…/{last}" if last else f"{parts.scheme}://{host}/"


@dataclass(slots=True)
class _Fetched:
    body: bytes
    etag: str | None = None
    last_modified: str | None = None


class IcsProvider:
    """A read-only calendar from an ICS file or an ICS URL.

    ``read_changes`` uses a content hash (plus the window) as its token: the
    same data gives an empty change set, anything else a full listing.  URL
    sources are fetched with ``If-None-Match``/``If-Modified-Since``.
    """

    def __init__(
        self,
        name: str,
        path: Path | None = None,
        url: str | None = None,
        zone: ZoneInfo | None = None,
        *,
        window: Window | None = None,
        clock: Clock = system_clock,
        timeout: tuple[float, float] = (5.0, 30.0),
        session: requests.Session | None = None,
    ) -> None:
        if (path is None) == (url is None):
            raise ValueError("IcsProvider needs exactly one of path= or url=")
        self.name = name
        self.path = path
        self.url = url.replace("webcal://", "https://", 1) if url and url.startswith("webcal://") else url
        self.zone = zone or ZoneInfo("UTC")
        self.window = window
        self.clock = clock
        self.timeout = timeout
        self.writable = False
        self.requests = RequestCounter()
        self._session = session
        self._cache: _Fetched | None = None
        self._parsed: tuple[str, list[Event]] | None = None

    @property
    def source(self) -> str:
        """The file path or (redacted) URL, for messages."""
        if self.url is not None:
            return redact_url(self.url)
        return str(self.path)

    def _window(self) -> Window:
        return self.window if self.window is not None else default_window(self.clock())

    # -- fetching -----------------------------------------------------------
    def _read_file(self) -> bytes:
        assert self.path is not None
        self.requests.count("read")
        try:
            return self.path.read_bytes()
        except OSError as exc:
            raise ProviderError(f"{self.name}: cannot read {self.path}: {exc.strerror or exc}") from exc

    def _http(self) -> requests.Session:
        if self._session is None:
            import requests

            self._session = requests.Session()
            self._session.headers["User-Agent"] = "idealweek (ICS reader)"
        return self._session

    def _fetch_url(self) -> bytes:
        import requests

        assert self.url is not None
        headers: dict[str, str] = {}
        if self._cache is not None:
            if self._cache.etag:
                headers["If-None-Match"] = self._cache.etag
            if self._cache.last_modified:
                headers["If-Modified-Since"] = self._cache.last_modified
        self.requests.count("fetch")
        try:
            resp = self._http().get(self.url, headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            raise TransientError(f"{self.name}: cannot fetch {self.source}: {type(exc).__name__}") from exc
        status = resp.status_code
        if status == 304 and self._cache is not None:
            return self._cache.body
        if status == 429 or status >= 500:
            retry = _retry_after(resp.headers.get("Retry-After"))
            raise TransientError(f"{self.name}: {self.source} answered HTTP {status}", retry_after=retry)
        if status >= 400 or status == 304:
            raise ProviderError(f"{self.name}: {self.source} answered HTTP {status}")
        body = resp.content
        if not is_calendar(body):
            ctype = resp.headers.get("Content-Type", "?")
            raise ProviderError(f"{self.name}: {self.source} is not an iCalendar feed (Content-Type {ctype})")
        last_mod = resp.headers.get("Last-Modified")
        self._cache = _Fetched(body, resp.headers.get("ETag"), last_mod)
        return body

    def _body(self) -> bytes:
        if self.url is not None:
            return self._fetch_url()
        body = self._read_file()
        if not is_calendar(body):
            raise ProviderError(f"{self.name}: {self.path} is not an iCalendar file")
        return body

    def _token(self, body: bytes, window: Window) -> str:
        h = hashlib.sha256(body)
        h.update(f"|{window[0].timestamp():.0f}|{window[1].timestamp():.0f}".encode())
        return "ics1:" + h.hexdigest()[:40]

    def _events(self, body: bytes, token: str, window: Window) -> list[Event]:
        if self._parsed is not None and self._parsed[0] == token:
            return self._parsed[1]
        events = parse_ics(body, source=self.source, calendar=self.name, zone=self.zone, window=window)
        self._parsed = (token, events)
        return events

    # -- Provider -----------------------------------------------------------
    def read_changes(self, token: str | None) -> ChangeSet:
        window = self._window()
        body = self._body()
        new = self._token(body, window)
        if token is not None and token == new:
            return ChangeSet(full=False, token=new)
        return ChangeSet(full=True, upserts=list(self._events(body, new, window)), token=new)

    def list_owned(self) -> list[Event]:
        window = self._window()
        body = self._body()
        return [e for e in self._events(body, self._token(body, window), window) if e.tag is not None]

    def create(self, desired: DesiredEvent) -> Event:
        raise NotOwned(f"calendar {self.name!r} is read-only")

    def update(self, existing: Event, desired: DesiredEvent) -> Event:
        raise NotOwned(f"calendar {self.name!r} is read-only")

    def delete(self, existing: Event) -> None:
        raise NotOwned(f"calendar {self.name!r} is read-only")

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


__all__ = [
    "TAG_ICS_PROPERTY",
    "WINDOWS_TO_IANA",
    "IcsProvider",
    "decode_tag",
    "default_window",
    "fingerprint",
    "is_calendar",
    "lookup_zone",
    "parse_ics",
    "redact_url",
]
