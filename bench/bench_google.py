"""Google benchmark against the fake Google server on loopback (SPEC §8); prints one JSON object.

* ``steady_cycle``: once settled, an engine cycle with nothing changed costs one
  request per calendar and no write (two Google calendars).
* ``full_sync``: reading 10,000 events over 2 calendars with the provider
  (pages of 2,500, mapping to events) against merely downloading and
  JSON-parsing the same pages with ``requests``; budget ratio ≤ 3.
* ``full_cycle``: the same 10,000 events through a whole first engine cycle
  (full sync + state database + plan + writes) against the same download;
  budget ratio ≤ 3.

Run: ``python bench/bench_google.py [--events N] [--repeat N]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
import structlog  # noqa: E402
from tests.fakes.google_server import GoogleFake, signed_in  # noqa: E402
from tests.scenario import GOOGLE_FAMILY, google_toml  # noqa: E402

from idealweek.config import Settings, loads  # noqa: E402
from idealweek.providers.google import GoogleProvider, RetryPolicy, make_provider  # noqa: E402

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2030, 3, 4, 8, 0, tzinfo=BERLIN)  # a Monday
BUDGET_RATIO = 3.0
FAMILY = GOOGLE_FAMILY


def _settings(fake: GoogleFake) -> Settings:
    return loads(google_toml(fake, family=True))


def _populate(fake: GoogleFake, cal: str, n: int, title: str, hour: int) -> None:
    """``n`` events over two years around NOW (a few hundred fall in the planning horizon)."""
    span_days = 730
    per_day = max(1, -(-n // span_days))
    me = {"email": fake.primary_id, "self": True, "responseStatus": "accepted"}
    for i in range(n):
        day, slot = divmod(i, per_day)
        start = NOW - timedelta(days=365) + timedelta(days=day, hours=hour - 8 + slot, minutes=15 * (i % 3))
        fake.user_add(cal, f"{title} {i}", start, start + timedelta(minutes=45), attendees=[me], description="x" * 80)


def _raw_download(fake: GoogleFake, cal: str, token: str) -> tuple[float, int, int]:
    """Time to GET and json-parse every page of a full listing (no mapping), as the provider asks for it."""
    session = requests.Session()
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{fake.api_root}calendars/{quote(cal, safe='')}/events"
    params: dict[str, str] = {"singleEvents": "true", "maxResults": "2500", "alt": "json"}
    t0 = time.perf_counter()
    items = pages = 0
    while True:
        resp = session.get(url, params=params, headers=headers, timeout=60)
        resp.raise_for_status()
        doc = json.loads(resp.content)
        items += len(doc.get("items", []))
        pages += 1
        if "nextPageToken" not in doc:
            break
        params = {**params, "pageToken": doc["nextPageToken"]}
    elapsed = time.perf_counter() - t0
    session.close()
    return elapsed, items, pages


def _providers(fake: GoogleFake, settings: Settings, store: Any) -> dict[str, GoogleProvider]:
    retry = RetryPolicy(sleep=lambda _s: None)
    return {name: make_provider(settings, ROOT / "c.toml", name, store, retry=retry) for name in ("work", "family")}


def _round(events: int, with_steady: bool) -> dict[str, Any]:
    """One measurement on a freshly filled fake: raw download, provider full sync, first engine cycle."""
    from idealweek.engine import Engine
    from idealweek.store import Store

    with GoogleFake(page_size=2500) as fake:
        fake.add_calendar(FAMILY, "Family", time_zone="Europe/Berlin")
        _populate(fake, "primary", events // 2, "Meeting", 9)
        _populate(fake, FAMILY, events - events // 2, "Family", 18)
        settings = _settings(fake)
        store = signed_in(fake, "g")
        access = json.loads(store.get("token:g") or "{}")["token"]

        raw_s = float("inf")
        raw_items = raw_pages = 0
        for _ in range(2):
            total = 0.0
            raw_items = raw_pages = 0
            for cal in ("primary", FAMILY):
                seconds, items, pages = _raw_download(fake, cal, access)
                total, raw_items, raw_pages = total + seconds, raw_items + items, raw_pages + pages
            raw_s = min(raw_s, total)

        provs = _providers(fake, settings, store)
        t0 = time.perf_counter()
        read_events = sum(len(p.read_changes(None).upserts) for p in provs.values())
        full_s = time.perf_counter() - t0
        requests_full = sum(p.requests.total for p in provs.values())
        for p in provs.values():
            p.close()

        out: dict[str, Any] = {
            "raw_s": raw_s,
            "raw_items": raw_items,
            "raw_pages": raw_pages,
            "full_s": full_s,
            "read_events": read_events,
            "requests_full": requests_full,
        }
        with tempfile.TemporaryDirectory() as tmp:
            provs = _providers(fake, settings, store)
            db = Store(Path(tmp) / "state.sqlite3")
            engine = Engine(settings, db, provs, clock=lambda: NOW)
            t0 = time.perf_counter()
            first = engine.cycle()
            out["cycle_s"] = time.perf_counter() - t0
            assert first.ok, first.failed
            out["first"] = first
            if with_steady:
                engine.cycle()  # reads back its own writes
                before = {n: (p.requests.reads, p.requests.writes) for n, p in provs.items()}
                out["steady_ops"] = len(engine.cycle().ops)
                out["steady"] = {
                    n: {"requests": p.requests.reads - before[n][0], "writes": p.requests.writes - before[n][1]}
                    for n, p in provs.items()
                }
            for p in provs.values():
                p.close()
            db.close()
        return out


def bench(events: int = 10_000, repeat: int = 3) -> dict[str, Any]:
    rounds = [_round(events, with_steady=(i == repeat - 1)) for i in range(repeat)]
    raw_s = min(r["raw_s"] for r in rounds)
    full_s = min(r["full_s"] for r in rounds)
    cycle_s = min(r["cycle_s"] for r in rounds)
    last = rounds[-1]
    first = last["first"]
    steady = last["steady"]
    ratio = full_s / raw_s if raw_s else float("inf")
    cycle_ratio = cycle_s / raw_s if raw_s else float("inf")
    return {
        "provider": "google",
        "steady_cycle": {
            "calendars": len(steady),
            "requests": sum(v["requests"] for v in steady.values()),
            "writes": sum(v["writes"] for v in steady.values()),
            "operations": last["steady_ops"],
            "per_calendar": steady,
            "ok": all(v["requests"] == 1 and v["writes"] == 0 for v in steady.values()),
        },
        "full_sync": {
            "events": last["read_events"],
            "pages": last["raw_pages"],
            "requests": last["requests_full"],
            "provider_s": round(full_s, 4),
            "raw_download_parse_s": round(raw_s, 4),
            "raw_items": last["raw_items"],
            "ratio": round(ratio, 2),
            "budget_ratio": BUDGET_RATIO,
            "ok": ratio <= BUDGET_RATIO,
        },
        "full_cycle": {
            "events_seen": first.events_seen,
            "writes": len(first.applied),
            "requests": first.requests,
            "cycle_s": round(cycle_s, 4),
            "raw_download_parse_s": round(raw_s, 4),
            "ratio": round(cycle_ratio, 2),
            "budget_ratio": BUDGET_RATIO,
            "ok": cycle_ratio <= BUDGET_RATIO,
        },
        "repeat": repeat,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, print its figures as JSON and return them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv if argv is not None else [])
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    result = bench(args.events, args.repeat)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    figures = main(sys.argv[1:])
    ok = all(figures[k]["ok"] for k in ("steady_cycle", "full_sync", "full_cycle"))
    raise SystemExit(0 if ok else 1)
