"""``calendarView/delta`` (pages, ``@removed``, expirable delta tokens), ``calendarView`` and event listings."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from tests.fakes.graph.schema import _PROP_ID_RE
from tests.fakes.graph.values import GraphError, StoredEvent

LINK_SAFE = "$'(),"
_FILTER_RE = re.compile(
    r"^singleValueExtendedProperties/Any\(ep: ep/id eq '([^']+)' and ep/value eq '((?:[^']|'')*)'\)$", re.IGNORECASE
)
_EXPAND_RE = re.compile(r"^singleValueExtendedProperties\(\$filter=id eq '([^']+)'\)$", re.IGNORECASE)


@dataclass
class _Page:
    calendar: str
    start: datetime
    end: datetime
    items: list[dict[str, Any]]
    offset: int
    version: int
    path: str


class Sync:
    """Delta rounds and paged listings (a part of :class:`FakeGraph`)."""

    lock: threading.RLock
    version: int
    max_page: int
    leak_outside_window: bool
    expire_status: int
    expire_code: str

    def _init_sync(self) -> None:
        self._delta_states: dict[str, tuple[str, datetime, datetime, int]] = {}
        self._pages: dict[str, _Page] = {}

    def expire_delta_tokens(self, status: int = 410, code: str = "SyncStateNotFound") -> None:
        """Forget every delta state: the next use of a deltaLink fails with ``status``/``code``."""
        with self.lock:
            self._delta_states.clear()
            self._pages.clear()
            self.expire_status = status
            self.expire_code = code

    def _page_size(self, prefer: dict[str, str]) -> int:
        try:
            asked = int(prefer.get("odata.maxpagesize", "10"))
        except ValueError:
            asked = 10
        return max(1, min(asked, self.max_page))

    def _window(self, query: dict[str, list[str]]) -> tuple[datetime, datetime]:
        try:
            start = datetime.fromisoformat(query["startDateTime"][0])
            end = datetime.fromisoformat(query["endDateTime"][0])
        except (KeyError, ValueError):
            raise GraphError(400, "ErrorInvalidParameter", "startDateTime and endDateTime are required.") from None
        if start.tzinfo is None or end.tzinfo is None:
            start, end = start.replace(tzinfo=UTC), end.replace(tzinfo=UTC)
        return start.astimezone(UTC), end.astimezone(UTC)

    @staticmethod
    def _overlaps(ev: StoredEvent, start: datetime, end: datetime) -> bool:
        return ev.start < end and (ev.end > start or ev.start >= start)

    def _delta(self, path: str, cid: str, query: dict[str, list[str]], prefer: dict[str, str]) -> dict[str, Any]:
        for bad in ("$select", "$filter", "$expand", "$orderby", "$search"):
            if bad in query:
                raise GraphError(
                    400, "ErrorInvalidUrlQuery", f"The query parameter '{bad}' is not supported with delta."
                )
        zone = prefer.get("outlook.timezone")
        if "$skiptoken" in query:
            page = self._pages.pop(query["$skiptoken"][0], None)
            if page is None:
                raise GraphError(self.expire_status, self.expire_code, "The sync state is not found.")
        elif "$deltatoken" in query:
            state = self._delta_states.get(query["$deltatoken"][0])
            if state is None:
                raise GraphError(self.expire_status, self.expire_code, "The sync state is not found or has expired.")
            scid, start, end, since = state
            changed: dict[str, None] = {}
            for version, ecal, eid in self.changes:
                if version > since and ecal == scid:
                    changed.pop(eid, None)
                    changed[eid] = None
            items: list[dict[str, Any]] = []
            for eid in changed:
                ev = self.events.get(eid)
                if ev is None:
                    items.append(
                        {"@odata.type": "#microsoft.graph.event", "id": eid, "@removed": {"reason": "deleted"}}
                    )
                elif ev.props.get("type") != "seriesMaster":
                    items.append(self.render(ev, zone, None))
            page = _Page(scid, start, end, items, 0, self.version, path)
        else:
            start, end = self._window(query)
            evs = [
                e
                for e in self.in_calendar(cid)
                if (self.leak_outside_window or self._overlaps(e, start, end))
                and e.props.get("type") != "seriesMaster"
                and not e.props.get("isCancelled")
            ]
            page = _Page(cid, start, end, [self.render(e, zone, None) for e in evs], 0, self.version, path)
        size = self._page_size(prefer)
        chunk = page.items[page.offset : page.offset + size]
        out: dict[str, Any] = {"@odata.context": f"{self.root_hint}/$metadata#Collection(event)", "value": chunk}
        if page.offset + size < len(page.items):
            token = f"skip{next(self._ids)}"
            self._pages[token] = _Page(
                page.calendar, page.start, page.end, page.items, page.offset + size, page.version, path
            )
            out["@odata.nextLink"] = (
                f"{self.root_hint}{path[len('/v1.0') :]}?{urlencode({'$skiptoken': token}, safe='$')}"
            )
        else:
            token = f"delta{next(self._ids)}"
            self._delta_states[token] = (page.calendar, page.start, page.end, page.version)
            out["@odata.deltaLink"] = (
                f"{self.root_hint}{path[len('/v1.0') :]}?{urlencode({'$deltatoken': token}, safe='$')}"
            )
        return out

    root_hint = ""
    """Set by the handler from the Host header: the absolute ``…/v1.0`` root for links."""

    def _paged(
        self, items: list[dict[str, Any]], query: dict[str, list[str]], prefer: dict[str, str], path: str
    ) -> dict[str, Any]:
        skip = int(query.get("$skip", ["0"])[0])
        size = self._page_size(prefer)
        out: dict[str, Any] = {"value": items[skip : skip + size]}
        if skip + size < len(items):
            q = {k: v[0] for k, v in query.items()} | {"$skip": str(skip + size)}
            out["@odata.nextLink"] = f"{self.root_hint}{path[len('/v1.0') :]}?{urlencode(q, safe=LINK_SAFE)}"
        return out

    def _view(self, cid: str, query: dict[str, list[str]], prefer: dict[str, str]) -> dict[str, Any]:
        start, end = self._window(query)
        expand = _expand(query)
        evs = [
            e for e in self.in_calendar(cid) if self._overlaps(e, start, end) and e.props.get("type") != "seriesMaster"
        ]
        items = [self.render(e, prefer.get("outlook.timezone"), expand) for e in evs]
        path = (
            "/v1.0/me/"
            + ("calendar" if cid == self.DEFAULT_CALENDAR else f"calendars/{quote(cid, safe='')}")
            + "/calendarView"
        )
        return self._paged(items, query, prefer, path)

    def _list_events(self, cid: str, query: dict[str, list[str]], prefer: dict[str, str], path: str) -> dict[str, Any]:
        evs = self.in_calendar(cid)
        if "$filter" in query:
            m = _FILTER_RE.match(query["$filter"][0])
            if m is None:
                raise GraphError(400, "ErrorInvalidUrlQueryFilter", "The filter expression is not supported.")
            pid, value = m.group(1), m.group(2).replace("''", "'")
            if not _PROP_ID_RE.match(pid):
                raise GraphError(400, "ErrorInvalidProperty", "The extended property id is not valid.")
            evs = [e for e in evs if e.ext_value(pid) == value]
        expand = _expand(query)
        items = [self.render(e, prefer.get("outlook.timezone"), expand) for e in evs]
        return self._paged(items, query, prefer, path)


def _expand(query: dict[str, list[str]]) -> set[str] | None:
    if "$expand" not in query:
        return None
    m = _EXPAND_RE.match(query["$expand"][0])
    if m is None:
        raise GraphError(
            400, "ErrorInvalidUrlQuery", "Only singleValueExtendedProperties($filter=id eq '…') is supported."
        )
    return {m.group(1).lower()}
