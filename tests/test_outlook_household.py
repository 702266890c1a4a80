"""Outlook and the household (issue 18): getSchedule for free/busy-only partners, blocks shown as away."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from idealweek.errors import ProviderError
from idealweek.model import Defend, DesiredEvent, Kind, OwnedTag, utc
from idealweek.providers.base import RequestCounter
from idealweek.providers.freebusy import FreeBusyProvider
from idealweek.providers.outlook.client import GraphClient
from idealweek.providers.outlook.freebusy import from_view, graph_busy
from tests.fakes.graph_server import FakeGraph, provider_for, validator

NOW = utc(2030, 3, 4, 8)
T0 = utc(2030, 3, 4, 17)
H = timedelta(hours=1)
PARTNER = "partner@contoso.example"


@pytest.fixture
def fake() -> Iterator[FakeGraph]:
    with FakeGraph() as graph:
        yield graph


def partner(fake: FakeGraph, horizon: timedelta = timedelta(days=14), address: str = PARTNER) -> FreeBusyProvider:
    client = GraphClient(
        fake.root,
        lambda force_refresh=False: "test-token",
        mailbox=f"{fake.root}|{id(fake)}",
        counter=RequestCounter(),
        label="partner",
        sleep=lambda _s: None,
    )
    return FreeBusyProvider(
        "partner", graph_busy(client, "partner", address), horizon=horizon, counter=client.counter, clock=lambda: NOW
    )


def schedule_posts(fake: FakeGraph) -> list[Any]:
    return [entry for entry in fake.log if entry[0] == "POST" and entry[1].endswith("/getSchedule")]


def test_get_schedule_reads_busy_tentative_and_away_once_per_cycle(fake: FakeGraph) -> None:
    """One getSchedule call per read: busy, tentative and away count as busy, free and working elsewhere do not;
    a second read of the same answer changes nothing."""
    fake.add_schedule_item(PARTNER, T0, T0 + H, "busy")
    fake.add_schedule_item(PARTNER, T0 + timedelta(days=1), T0 + timedelta(days=1, hours=2), "tentative")
    fake.add_schedule_item(PARTNER, T0 + timedelta(days=2), T0 + timedelta(days=2, hours=1), "oof")
    fake.add_schedule_item(PARTNER, T0 + timedelta(days=3), T0 + timedelta(days=3, hours=1), "free")
    fake.add_schedule_item(PARTNER, T0 + timedelta(days=4), T0 + timedelta(days=4, hours=1), "workingElsewhere")
    p = partner(fake)
    first = p.read_changes(None)
    assert sorted(e.start for e in first.upserts) == [T0, T0 + timedelta(days=1), T0 + timedelta(days=2)]
    assert all(e.busy and not e.title for e in first.upserts)
    assert len(schedule_posts(fake)) == 1 and p.requests.by_kind == {"getSchedule": 1}
    again = p.read_changes(first.token)
    assert again.upserts == [] and again.removed == [] and not again.full


def test_get_schedule_windows_stay_under_62_days(fake: FakeGraph) -> None:
    """A long horizon is read in windows under 62 days (the fake refuses longer ones, like Graph)."""
    p = partner(fake, horizon=timedelta(days=150))
    fake.add_schedule_item(PARTNER, T0, T0 + H)
    p.read_changes(None)
    assert len(schedule_posts(fake)) == 3


def test_unknown_mailbox_and_personal_accounts_fail_with_a_clear_message(fake: FakeGraph) -> None:
    """A schedule Graph cannot show, or a personal Microsoft account, fails this calendar with the reason."""
    with pytest.raises(ProviderError, match="ErrorMailRecipientNotFound"):
        partner(fake, address="nobody@contoso.example").read_changes(None)
    fake.personal_account = True
    with pytest.raises(ProviderError, match="work or school accounts"):
        partner(fake).read_changes(None)


def test_fake_schedule_answer_matches_the_graph_schema(fake: FakeGraph) -> None:
    """The fake's getSchedule answer is valid scheduleInformation (schema subset from msgraph-metadata)."""
    fake.add_schedule_item(PARTNER, T0, T0 + H, "busy")
    answer = fake._get_schedule(
        {
            "schedules": [PARTNER, "nobody@contoso.example"],
            "startTime": {"dateTime": "2030-03-04T00:00:00", "timeZone": "UTC"},
            "endTime": {"dateTime": "2030-03-05T00:00:00", "timeZone": "UTC"},
            "availabilityViewInterval": 60,
        }
    )
    for info in answer["value"]:
        assert validator().validate(info, "microsoft.graph.scheduleInformation") == []
    assert answer["value"][0]["availabilityView"][17] == "2"


def test_availability_view_digits_become_busy_intervals() -> None:
    """availabilityView: 1, 2 and 3 are busy, 0 and 4 are not; neighbouring busy slots merge."""
    ivs = from_view("0122043", T0, 15)
    assert [(iv.start, iv.end) for iv in ivs] == [
        (T0 + timedelta(minutes=15), T0 + timedelta(minutes=60)),
        (T0 + timedelta(minutes=90), T0 + timedelta(minutes=105)),
    ]


def block(defend: Defend) -> DesiredEvent:
    tag = OwnedTag(key="block:school", kind=Kind.BLOCK, planned_start=T0, planned_end=T0 + H, category="family")
    d = DesiredEvent(calendar="work", tag=tag, start=T0, end=T0 + H, title="School pick-up", private=True)
    return dataclasses.replace(d, defend=defend, busy=defend != Defend.FREE)


@pytest.mark.parametrize(("defend", "show_as"), [(Defend.DECLINE, "oof"), (Defend.BUSY, "busy"), (Defend.FREE, "free")])
def test_defended_block_shows_as_away_busy_or_free(fake: FakeGraph, defend: Defend, show_as: str) -> None:
    """On Outlook defend = decline is showAs oof (Graph has no per-event auto-decline), busy is busy, free is free;
    the body passes the schema and nobody is mailed."""
    p = provider_for(fake, clock=lambda: NOW)
    ev = p.create(block(defend))
    assert fake.events[ev.uid].props["showAs"] == show_as
    assert ev.busy == (defend != Defend.FREE)
    assert fake.mailed == []
