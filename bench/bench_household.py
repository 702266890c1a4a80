"""Household benchmark (issue 18): requests per steady cycle with household sources; prints one JSON object.

A Google primary calendar (meetings and blocks) plus three household sources: a partner read through Google
``freeBusy.query``, a child through Graph ``getSchedule`` and a sitter's vdir folder.  Once settled, a cycle
with nothing changed should cost one request per calendar (household sources included) and no write; a
household change that lands on a booked make-up moves it (one create, one delete).

Run: ``python bench/bench_household.py``.
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import structlog  # noqa: E402
from tests.fakes.dav_servers import vevent  # noqa: E402
from tests.fakes.google_server import GoogleFake  # noqa: E402
from tests.fakes.graph_server import FakeGraph  # noqa: E402
from tests.test_household_e2e import KID, PARTNER, Household, at  # noqa: E402


def bench() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, GoogleFake() as fake, FakeGraph() as graph:
        fake.add_calendar(PARTNER, access_role="freeBusyReader")
        home = Household(Path(tmp), fake, graph)
        try:
            for day in range(0, 12):
                if at(day, 0).weekday() < 5:
                    fake.user_add(PARTNER, "Late shift", at(day, 18, 30), at(day, 21, 30))
            graph.add_schedule_item(KID, at(5, 8), at(5, 12), "busy")
            (Path(tmp) / "sitter" / "away.ics").write_text(vevent("sitter-away", "Away", at(5, 12), at(5, 19)))
            me = {"email": fake.primary_id, "self": True, "responseStatus": "accepted"}
            fake.user_add("primary", "Late sync", at(0, 17, 30), at(0, 18, 30), attendees=[me])
            first = home.cycle()
            home.cycle()
            before = {n: (p.requests.reads, p.requests.writes) for n, p in home.providers.items()}
            steady = home.cycle()
            per_calendar = {
                n: {"requests": p.requests.reads - before[n][0], "writes": p.requests.writes - before[n][1]}
                for n, p in home.providers.items()
            }
            (booked,) = home.makeups()
            fake.user_add(PARTNER, "Football", booked[0], booked[1])
            moved = home.cycle()
            return {
                "first_cycle": {"writes": len(first.applied), "requests": first.requests},
                "steady_cycle": {
                    "calendars": len(per_calendar),
                    "household_sources": 3,
                    "requests": steady.requests,
                    "writes": len(steady.applied),
                    "operations": len(steady.ops),
                    "per_calendar": per_calendar,
                    "ok": all(v["requests"] == 1 and v["writes"] == 0 for v in per_calendar.values()),
                },
                "household_change_cycle": {
                    "requests": moved.requests,
                    "writes": len(moved.applied),
                    "operations": sorted(op.kind.value for op in moved.ops),
                },
            }
        finally:
            home.close()


def main() -> dict[str, Any]:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    result = bench()
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
