"""CalDAV benchmark against a real Radicale on loopback (SPEC §8); prints one JSON object.

* ``steady_cycle``: once settled, an engine cycle with nothing changed on a
  CalDAV meetings calendar and a CalDAV blocks calendar: requests per calendar
  (the provider's count, and the HTTP requests a proxy in front of the server
  saw) and writes; budget: one request per calendar, zero writes.
* ``full_read``: a first read of ``--events`` events in one calendar
  (sync-collection plus calendar-multigets): requests and seconds.

Run: ``python bench/bench_caldav.py [--events N] [--repeat N]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import structlog  # noqa: E402
from tests.fakes.dav_proxy import DavProxy  # noqa: E402
from tests.fakes.dav_servers import DavServer, vevent  # noqa: E402
from tests.scenario import BASE_TOML  # noqa: E402

from idealweek.config import loads  # noqa: E402
from idealweek.engine import Engine  # noqa: E402
from idealweek.providers.caldav import make_provider  # noqa: E402
from idealweek.store import Store  # noqa: E402

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2030, 3, 4, 8, 0, tzinfo=BERLIN)  # a Monday


class Secrets:
    def __init__(self, password: str) -> None:
        self.password = password

    def get(self, name: str) -> str | None:
        return self.password if name == "token:family" else None


def _config(url: str, username: str, work: str, home: str) -> str:
    head = BASE_TOML.split("[calendars.work]")[0].format(zone="Europe/Berlin", focus="0h")
    return (
        head
        + f"""
[accounts.family]
provider = "caldav"
url = "{url}"
username = "{username}"

[calendars.work]
source = "caldav"
account = "family"
id = "{work}"
roles = ["meetings"]

[calendars.home]
source = "caldav"
account = "family"
id = "{home}"
roles = ["blocks"]
"""
    )


def steady_cycle(server: DavServer, tmp: Path, repeat: int) -> dict[str, Any]:
    user = server.user()
    work, home = server.new_calendar("work"), server.new_calendar("home")
    for day in range(5):
        start = NOW.replace(hour=17, minute=30) + timedelta(days=day)
        user.add(work, f"Late sync {day}", start, start + timedelta(hours=1))
    with DavProxy(server.port) as proxy:
        settings = loads(_config(proxy.url, server.username, work, home))
        secrets = Secrets(server.password)
        providers: dict[str, Any] = {
            name: make_provider(settings, tmp / "config.toml", name, secrets, clock=lambda: NOW)
            for name in ("work", "home")
        }
        store = Store(tmp / "state.sqlite3")
        engine = Engine(settings, store, providers, clock=lambda: NOW)
        settle = 0
        while settle < 6:
            settle += 1
            if not engine.cycle().ops:
                break
        per_calendar: list[dict[str, int]] = []
        http: list[int] = []
        writes: list[int] = []
        times: list[float] = []
        for _ in range(repeat):
            before = {n: p.requests.total for n, p in providers.items()}
            wbefore = sum(p.requests.writes for p in providers.values())
            seen = len(proxy.seen)
            t0 = time.perf_counter()
            report = engine.cycle()
            times.append(time.perf_counter() - t0)
            assert report.ok and not report.ops, report.failed
            per_calendar.append({n: p.requests.total - before[n] for n, p in providers.items()})
            writes.append(sum(p.requests.writes for p in providers.values()) - wbefore)
            http.append(len(proxy.seen) - seen)
        methods = sorted({s.method for s in proxy.seen[-http[-1] :]}) if http[-1] else []
        for p in providers.values():
            p.close()
        store.close()
    user.close()
    worst = {n: max(r[n] for r in per_calendar) for n in per_calendar[0]}
    return {
        "calendars": len(worst),
        "settling_cycles": settle,
        "requests_per_calendar": worst,
        "http_requests_seen_by_proxy": max(http),
        "http_methods": methods,
        "writes": max(writes),
        "cycle_ms_median": round(statistics.median(times) * 1000, 1),
        "budget": "1 request per calendar, 0 writes",
        "ok": all(v == 1 for v in worst.values()) and max(writes) == 0 and max(http) == len(worst),
    }


def full_read(server: DavServer, tmp: Path, events: int) -> dict[str, Any]:
    from idealweek.providers.caldav import CalDavProvider, ClientOptions, DavSession

    user = server.user()
    path = server.new_calendar("bulk")
    base = NOW.astimezone(BERLIN)
    for i in range(events):
        start = base + timedelta(days=i % 300, hours=i % 9)
        user.put(path, f"e{i}.ics", vevent(f"e{i}@bench", f"Event {i}", start, start + timedelta(minutes=30)))
    user.close()
    session = DavSession(
        ClientOptions(url=server.url, username=server.username, password=server.password, account="bench")
    )
    p = CalDavProvider("bulk", session, path, zone=BERLIN, clock=lambda: NOW)
    t0 = time.perf_counter()
    cs = p.read_changes(None)
    seconds = time.perf_counter() - t0
    requests = p.requests.total
    t1 = time.perf_counter()
    again = p.read_changes(cs.token)
    steady_ms = (time.perf_counter() - t1) * 1000
    p.close()
    return {
        "events": len(cs.upserts),
        "requests": requests,
        "seconds": round(seconds, 3),
        "steady_read_ms": round(steady_ms, 1),
        "steady_read_changes": len(again.upserts) + len(again.removed),
    }


def bench(events: int, repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, DavServer("radicale", Path(tmp)) as server:
        out = {"server": "radicale", "steady_cycle": steady_cycle(server, Path(tmp), repeat)}
        out["full_read"] = full_read(server, Path(tmp), events)
        return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, print its figures as JSON and return them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv if argv is not None else [])
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    result = bench(args.events, args.repeat)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    figures = main(sys.argv[1:])
    raise SystemExit(0 if figures["steady_cycle"]["ok"] else 1)
