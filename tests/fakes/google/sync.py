"""``events.list``: filtered listings, consistent paged snapshots, sync tokens (expirable: 410)."""

from __future__ import annotations

import json
import secrets
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tests.fakes.google.calendar import FakeCalendar
from tests.fakes.google.schema import SYNC_FORBIDDEN, ApiFailure, bad_request
from tests.fakes.google.values import _b64, _rfc3339, _unb64, _when


@dataclass
class _Snapshot:
    pages: list[list[str]]
    """Each page's items, encoded as JSON when the listing started (a consistent snapshot)."""
    sync_token: str | None
    signature: str
    next_sync_token: str
    calendar: FakeCalendar


@dataclass
class _RawPage:
    """An events.list page whose items are already JSON text."""

    page: dict[str, Any]
    items: list[str]

    def encode(self) -> bytes:
        head = json.dumps(self.page)[:-1]
        return f'{head}, "items": [{",".join(self.items)}]}}'.encode()


class Sync:
    """Listing and incremental sync (a part of :class:`GoogleFake`)."""

    lock: threading.RLock
    calendars: dict[str, FakeCalendar]
    page_size: int
    empty_pages: bool
    _last_seq: int

    def _init_sync(self) -> None:
        self._snapshots: OrderedDict[str, _Snapshot] = OrderedDict()

    def expire_sync_tokens(self, cal_id: str | None = None) -> None:
        """Every sync token issued so far (for one calendar, or all) answers 410 fullSyncRequired."""
        with self.lock:
            for cal in self.calendars.values():
                if cal_id is None or cal.id == self.calendar(cal_id).id:
                    cal.generation += 1

    def _sync_token(self, cal: FakeCalendar) -> str:
        doc = {"c": cal.id, "g": cal.generation, "s": self._last_seq}
        return "CP" + _b64(json.dumps(doc, separators=(",", ":")).encode())

    def _read_sync_token(self, cal: FakeCalendar, token: str) -> int:
        try:
            if not token.startswith("CP"):
                raise ValueError
            doc = json.loads(_unb64(token[2:]))
            cal_id, gen, seq = str(doc["c"]), int(doc["g"]), int(doc["s"])
        except (ValueError, KeyError, TypeError):
            raise bad_request("Invalid sync token value.", "invalid") from None
        if cal_id != cal.id:
            raise bad_request("Invalid sync token value.", "invalid")
        if gen != cal.generation:
            raise ApiFailure(410, "fullSyncRequired", "Sync token is no longer valid, a full sync is required.")
        return seq

    def _list(self, cal: FakeCalendar, params: dict[str, str]) -> _RawPage:
        sync = params.get("syncToken")
        if sync is not None:
            bad = sorted(SYNC_FORBIDDEN & set(params))
            if bad:
                raise bad_request(
                    f"Sync token cannot be used together with {', '.join(bad)}.", "invalid"
                )  # Google refuses these combinations
        max_results = int(params.get("maxResults", "250"))
        if not 1 <= max_results <= 2500:
            raise bad_request(f"Invalid value for maxResults: {max_results}", "invalid")
        if params.get("orderBy") == "startTime" and params.get("singleEvents") != "true":
            raise bad_request("The requested ordering is not available for the particular query.", "invalid")
        signature = json.dumps({k: v for k, v in sorted(params.items()) if k not in ("pageToken", "syncToken")})
        page_token = params.get("pageToken")
        if page_token is not None:
            snap_id, _, index_text = page_token.partition(".")
            snap = self._snapshots.get(snap_id)
            if snap is None or snap.calendar is not cal or not index_text.isdigit():
                raise bad_request("Invalid page token value.", "invalid")
            if snap.sync_token != sync or snap.signature != signature:
                raise bad_request("The page token does not match the other parameters of the request.", "invalid")
            return self._page(snap, snap_id, int(index_text))
        if sync is not None:
            since = self._read_sync_token(cal, sync)
            changed = sorted((seq, eid) for eid, seq in cal.changed.items() if seq > since)
            items = [self._as_listed(cal.events[eid], incremental=True) for _, eid in changed]
        else:
            items = [self._as_listed(e, incremental=False) for e in self._filtered(cal, params)]
        size = min(max_results, max(1, self.page_size))
        pages = [items[i : i + size] for i in range(0, len(items), size)] or [[]]
        if self.empty_pages and items:
            spaced: list[list[str]] = [[]]
            for i, page in enumerate(pages):
                spaced.append(page)
                if i % 2 == 0 and i + 1 < len(pages):
                    spaced.append([])
            pages = spaced
        snap = _Snapshot(pages, sync, signature, self._sync_token(cal), cal)
        snap_id = secrets.token_hex(6)
        self._snapshots[snap_id] = snap
        while len(self._snapshots) > 200:
            self._snapshots.popitem(last=False)
        return self._page(snap, snap_id, 0)

    def _page(self, snap: _Snapshot, snap_id: str, index: int) -> _RawPage:
        if index >= len(snap.pages):
            raise bad_request("Invalid page token value.", "invalid")
        cal = snap.calendar
        page: dict[str, Any] = {
            "kind": "calendar#events",
            "etag": f'"{3180000000000000 + self._last_seq}"',
            "summary": cal.summary,
            "description": "",
            "updated": _rfc3339(datetime.now(UTC)),
            "timeZone": cal.time_zone,
            "accessRole": cal.access_role,
            "defaultReminders": [{"method": "popup", "minutes": 10}],
        }
        if index + 1 < len(snap.pages):
            page["nextPageToken"] = f"{snap_id}.{index + 1}"
        else:
            page["nextSyncToken"] = snap.next_sync_token
        return _RawPage(page, snap.pages[index])

    def _filtered(self, cal: FakeCalendar, params: dict[str, str]) -> Iterator[dict[str, Any]]:
        show_deleted = params.get("showDeleted") == "true"
        tmin = datetime.fromisoformat(params["timeMin"]) if "timeMin" in params else None
        tmax = datetime.fromisoformat(params["timeMax"]) if "timeMax" in params else None
        props = [p.partition("=") for p in params.get("privateExtendedProperty", "").split("\x00") if p]
        for event in cal.events.values():
            if event.get("status") == "cancelled" and not show_deleted:
                continue
            if tmin or tmax:
                try:
                    start, end = _when(event["start"], cal.zone), _when(event["end"], cal.zone)
                except (KeyError, TypeError, ValueError):
                    pass  # a broken event (tests of unreadable events) is listed as it is
                else:
                    if (tmin and end <= tmin) or (tmax and start >= tmax):
                        continue
            private = event.get("extendedProperties", {}).get("private", {})
            if any(private.get(k) != v for k, _, v in props):
                continue
            if "q" in params and params["q"].lower() not in str(event.get("summary", "")).lower():
                continue
            if "iCalUID" in params and event.get("iCalUID") != params["iCalUID"]:
                continue
            yield event

    @staticmethod
    def _as_listed(event: dict[str, Any], incremental: bool) -> str:
        if incremental and event.get("status") == "cancelled":
            slim: dict[str, Any] = {k: event[k] for k in ("kind", "etag", "id", "status") if k in event}
            for key in ("recurringEventId", "originalStartTime"):
                if key in event:
                    slim[key] = event[key]
            return json.dumps(slim)
        return json.dumps(event)
