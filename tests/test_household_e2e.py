"""End to end through the engine (issue 18): a family whose busy time comes from Google free/busy, Graph getSchedule
and a vdir; make-ups only where everyone is free, one read per household source per steady cycle, moves counted."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from idealweek.config import Settings, loads
from idealweek.engine import CycleReport, Engine
from idealweek.model import Kind
from idealweek.providers.base import Provider, RequestCounter
from idealweek.providers.freebusy import FreeBusyProvider
from idealweek.providers.google import RetryPolicy, make_provider
from idealweek.providers.google.auth import SCOPE_FREEBUSY
from idealweek.providers.google.mapping import tag_from_properties
from idealweek.providers.outlook.client import GraphClient
from idealweek.providers.outlook.freebusy import graph_busy
from idealweek.providers.vdir import VdirProvider
from idealweek.store import Store
from tests.fakes.dav_servers import vevent
from tests.fakes.google_server import DEFAULT_SCOPES, GoogleFake
from tests.fakes.graph_server import FakeGraph
from tests.scenario import BASE_TOML

BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2026, 11, 23, 8, 0, tzinfo=BERLIN)  # a Monday
PARTNER = "partner@example.org"
KID = "kid@school.example"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return START.replace(hour=hour, minute=minute) + timedelta(days=day)


def config_text(fake: GoogleFake) -> str:
    body = BASE_TOML.split("[calendars.work]")[0].format(zone="Europe/Berlin", focus="0m")
    body = body.replace('title = "Family time"', 'title = "Family time"\ntogether = true')
    return (
        body
        + f"""
[accounts.g]
provider = "google"
api_root = "{fake.api_root}"
token_uri = "{fake.token_uri}"

[accounts.office]
provider = "outlook"
client_id = "00000000-0000-0000-0000-000000000000"

[calendars.work]
source = "google"
account = "g"
id = "primary"
roles = ["meetings", "blocks"]

[calendars.partner]
source = "google"
account = "g"
id = "{PARTNER}"
roles = ["household"]
free_busy = true

[calendars.kid]
source = "outlook"
account = "office"
id = "{KID}"
roles = ["household"]
free_busy = true

[calendars.sitter]
source = "vdir"
path = "sitter"
roles = ["household"]
"""
    )


class Household:
    def __init__(self, tmp: Path, fake: GoogleFake, graph: FakeGraph) -> None:
        self.tmp, self.fake, self.graph = tmp, fake, graph
        self.now = START
        (tmp / "sitter").mkdir()
        self.settings: Settings = loads(config_text(fake))
        from idealweek.secrets import MemoryStore

        secrets = MemoryStore()
        secrets.set("token:g", fake.issue_token(scopes=(*DEFAULT_SCOPES, SCOPE_FREEBUSY)))
        retry = RetryPolicy(sleep=lambda _s: None, jitter=lambda: 0.5)
        work = make_provider(self.settings, tmp / "c.toml", "work", secrets, retry=retry)
        partner = make_provider(self.settings, tmp / "c.toml", "partner", secrets, retry=retry)
        assert isinstance(partner, FreeBusyProvider)
        partner.clock = self.clock
        client = GraphClient(
            graph.root,
            lambda force_refresh=False: "test-token",
            mailbox=f"{graph.root}|{id(graph)}",
            counter=RequestCounter(),
            label="kid",
            sleep=lambda _s: None,
        )
        kid = FreeBusyProvider(
            "kid",
            graph_busy(client, "kid", KID),
            horizon=self.settings.horizon,
            counter=client.counter,
            clock=self.clock,
        )
        sitter = VdirProvider("sitter", tmp / "sitter", writable=False, zone=BERLIN, clock=self.clock)
        self.providers: dict[str, Provider] = {"work": work, "partner": partner, "kid": kid, "sitter": sitter}
        self.store = Store(tmp / "state.sqlite3")
        self.engine = Engine(self.settings, self.store, self.providers, clock=self.clock)

    def clock(self) -> datetime:
        return self.now

    def cycle(self) -> CycleReport:
        report = self.engine.cycle()
        assert report.ok, report.failed
        return report

    def makeups(self) -> list[tuple[datetime, datetime]]:
        out = []
        for raw in self.fake.live_events("primary"):
            tag = tag_from_properties(raw.get("extendedProperties", {}).get("private", {}))
            if tag is not None and tag.kind == Kind.MAKEUP:
                out.append(
                    (
                        datetime.fromisoformat(raw["start"]["dateTime"]).astimezone(UTC),
                        datetime.fromisoformat(raw["end"]["dateTime"]).astimezone(UTC),
                    )
                )
        return sorted(out)

    def close(self) -> None:
        for p in self.providers.values():
            p.close()
        self.store.close()


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Household]:
    with GoogleFake() as fake, FakeGraph() as graph:
        fake.add_calendar(PARTNER, access_role="freeBusyReader")
        h = Household(tmp_path, fake, graph)
        yield h
        h.close()
        assert fake.mails == 0 and graph.mailed == []


def busy_times(h: Household) -> list[tuple[datetime, datetime]]:
    return [(e.start, e.end) for name in ("partner", "kid", "sitter") for e in h.store.events([name])]


def test_family_makeup_lands_where_everyone_is_free_and_steady_cycles_read_each_source_once(home: Household) -> None:
    """Partner busy on weekday evenings (Google free/busy), the kid on Saturday morning (Graph getSchedule), the
    sitter away Saturday afternoon (vdir): the family make-up goes to Sunday; a steady cycle costs one request per
    calendar, household sources included, and writes nothing; a partner change on the make-up moves it; of the
    household calendars only busy times are stored."""
    for day in range(0, 12):
        if at(day, 0).weekday() < 5:
            home.fake.user_add(PARTNER, "Late shift", at(day, 18, 30), at(day, 21, 30))
    home.graph.add_schedule_item(KID, at(5, 8), at(5, 12), "busy")
    (home.tmp / "sitter" / "away.ics").write_text(vevent("sitter-away", "Away", at(5, 12), at(5, 19)))
    me = {"email": home.fake.primary_id, "self": True, "responseStatus": "accepted"}
    home.fake.user_add("primary", "Late sync", at(0, 17, 30), at(0, 18, 30), attendees=[me])

    first = home.cycle()
    assert first.plan is not None and first.plan.debts
    (booked,) = home.makeups()
    assert booked[0].astimezone(BERLIN).weekday() == 6, booked  # Sunday: the first time everyone is free
    for s, e in busy_times(home):
        assert not (s < booked[1] and booked[0] < e)
    sitter = home.store.events(["sitter"])
    assert sitter and all(e.title == "" and e.busy for e in sitter)  # only "this person is busy" is kept

    home.cycle()  # reads back its own writes
    before = {n: (p.requests.reads, p.requests.writes) for n, p in home.providers.items()}
    steady = home.cycle()
    assert steady.ops == [] and steady.applied == []
    per_calendar = {n: p.requests.reads - before[n][0] for n, p in home.providers.items()}
    assert per_calendar == {"work": 1, "partner": 1, "kid": 1, "sitter": 1}, per_calendar
    assert all(p.requests.writes == before[n][1] for n, p in home.providers.items())
    assert steady.requests == 4

    # the partner books the Sunday slot: the make-up moves (outside the freeze window), counted in the cycle
    home.fake.user_add(PARTNER, "Football", booked[0], booked[1])
    moved = home.cycle()
    kinds = sorted(op.kind.value for op in moved.applied if op.calendar == "work")
    assert kinds == ["create", "delete"], kinds
    assert moved.summary()["writes"] == 2
    (now_booked,) = home.makeups()
    assert now_booked != booked
    for s, e in busy_times(home):
        assert not (s < now_booked[1] and now_booked[0] < e)
    assert home.cycle().ops == []
