"""Outlook benchmark against the fake Graph on loopback (SPEC §8); prints one JSON object.

* ``steady``: after a full sync, an incremental cycle with nothing changed costs
  one request per calendar and no write (two calendars: the default one and a
  secondary one).
* ``full_sync``: reading 10,000 events with the provider (delta pages + the
  owned-event listing + mapping to events) against merely downloading and
  JSON-parsing the same delta pages with ``requests``; budget ratio ≤ 3.

Run: ``python bench/bench_outlook.py [--events N] [--page-size N]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
import structlog  # noqa: E402
from tests.fakes.graph_server import FakeGraph, provider_for  # noqa: E402

from idealweek.model import DesiredEvent, Kind, OwnedTag, utc  # noqa: E402
from idealweek.providers.outlook import SyncState  # noqa: E402

NOW = utc(2030, 3, 4, 8)
BUDGET_RATIO = 3.0


def _populate(fake: FakeGraph, n: int, calendar: str | None = None) -> None:
    span = 20 * 24 * 4  # quarter-hours in the window
    for i in range(n):
        start = NOW - timedelta(days=5) + timedelta(minutes=15 * (i % span))
        fake.user_add(f"Meeting {i}", start, start + timedelta(minutes=30), calendar=calendar)


def _raw_download(fake: FakeGraph, page_size: int, start: str, end: str) -> tuple[float, int, int]:
    """Time to GET and json-parse every delta page of a full round (no mapping)."""
    session = requests.Session()
    headers = {
        "Authorization": "Bearer test-token",
        "Prefer": f'outlook.timezone="UTC", odata.maxpagesize={page_size}',
    }
    t0 = time.perf_counter()
    url: str | None = fake.root + "/me/calendarView/delta"
    params: dict[str, str] | None = {"startDateTime": start, "endDateTime": end}
    items = pages = 0
    while url:
        resp = session.get(url, params=params, headers=headers, timeout=60)
        resp.raise_for_status()
        doc = json.loads(resp.content)
        items += len(doc["value"])
        pages += 1
        params = None
        url = doc.get("@odata.nextLink")
    elapsed = time.perf_counter() - t0
    session.close()
    return elapsed, items, pages


def bench(events: int = 10_000, page_size: int = 100, owned: int = 50, repeat: int = 3) -> dict[str, Any]:
    with FakeGraph() as fake:
        _populate(fake, events)
        cid = fake.add_calendar("Family")
        _populate(fake, 40, calendar=cid)
        primary = provider_for(fake, clock=lambda: NOW, page_size=page_size)
        secondary = provider_for(fake, cid, name="family", clock=lambda: NOW, page_size=page_size)
        for i in range(owned):
            start = NOW + timedelta(hours=i)
            tag = OwnedTag(
                key=f"mirror:{i}", kind=Kind.MIRROR, planned_start=start, planned_end=start + timedelta(hours=1)
            )
            primary.create(DesiredEvent(calendar="work", tag=tag, start=start, end=tag.planned_end, title="Busy"))

        # full sync: provider vs raw download + parse of the same pages
        full_times: list[float] = []
        raw_times: list[float] = []
        cs = None
        requests_full = 0
        for _ in range(repeat):
            p = provider_for(fake, clock=lambda: NOW, page_size=page_size)
            t0 = time.perf_counter()
            cs = p.read_changes(None)
            full_times.append(time.perf_counter() - t0)
            requests_full = p.requests.total
            p.close()
            state = SyncState.decode(cs.token or "")
            assert state is not None
            start_q = state.start.strftime("%Y-%m-%dT%H:%M:%SZ")
            end_q = state.end.strftime("%Y-%m-%dT%H:%M:%SZ")
            raw, items, pages = _raw_download(fake, page_size, start_q, end_q)
            raw_times.append(raw)
        assert cs is not None
        full_s, raw_s = min(full_times), min(raw_times)

        # steady cycle: one request per calendar, zero writes
        tokens = {p.name: p.read_changes(None).token for p in (primary, secondary)}
        before = {p.name: (p.requests.reads, p.requests.writes) for p in (primary, secondary)}
        steady: dict[str, dict[str, int]] = {}
        for p in (primary, secondary):
            out = p.read_changes(tokens[p.name])
            assert not out.full and not out.upserts and not out.removed
            reads, writes = before[p.name]
            steady[p.name] = {"requests": p.requests.reads - reads, "writes": p.requests.writes - writes}
        primary.close()
        secondary.close()
        ratio = full_s / raw_s if raw_s else float("inf")
        return {
            "provider": "outlook",
            "steady_cycle": {
                "calendars": len(steady),
                "requests": sum(v["requests"] for v in steady.values()),
                "writes": sum(v["writes"] for v in steady.values()),
                "per_calendar": steady,
                "ok": all(v["requests"] == 1 and v["writes"] == 0 for v in steady.values()),
            },
            "full_sync": {
                "events": len(cs.upserts),
                "owned": sum(1 for e in cs.upserts if e.tag is not None),
                "pages": pages,
                "page_size": page_size,
                "requests": requests_full,
                "provider_s": round(full_s, 4),
                "raw_download_parse_s": round(raw_s, 4),
                "raw_items": items,
                "ratio": round(ratio, 2),
                "budget_ratio": BUDGET_RATIO,
                "ok": ratio <= BUDGET_RATIO,
            },
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))  # stdout is JSON
    result = bench(args.events, args.page_size, repeat=args.repeat)
    print(json.dumps(result, indent=2))
    return 0 if result["steady_cycle"]["ok"] and result["full_sync"]["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
