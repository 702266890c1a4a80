"""The provider contract on the Outlook provider, against the fake Graph over loopback HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from idealweek.model import utc
from idealweek.providers.outlook import OutlookProvider
from tests.contract import T0, ProviderContract
from tests.fakes.graph_server import FakeGraph, provider_for

NOW = T0 - timedelta(days=1)


class OutlookHarness:
    remembers_deleted_ids = False
    checks_etags = True

    def __init__(self, fake: FakeGraph, calendar_id: str = "") -> None:
        self.fake = fake
        self.calendar_id = calendar_id
        self.provider: OutlookProvider = provider_for(fake, calendar_id, clock=lambda: NOW)

    def user_add(self, title: str, start: datetime, end: datetime) -> str:
        return self.fake.user_add(title, start, end, calendar=self.calendar_id or None)

    def user_delete(self, uid: str) -> None:
        self.fake.user_delete(uid)

    def user_retitle(self, uid: str, title: str) -> None:
        self.fake.user_patch(uid, subject=title)


@pytest.fixture
def fake() -> Iterator[FakeGraph]:
    with FakeGraph() as graph:
        yield graph


class TestOutlookContractPrimary(ProviderContract):
    @pytest.fixture
    def harness(self, fake: FakeGraph) -> OutlookHarness:
        return OutlookHarness(fake)


class TestOutlookContractSecondary(ProviderContract):
    @pytest.fixture
    def harness(self, fake: FakeGraph) -> OutlookHarness:
        return OutlookHarness(fake, fake.add_calendar("Blocks"))


class TestOutlookContractWithoutDelta(ProviderContract):
    """A secondary calendar where the service refuses delta: windowed listing with changeKeys."""

    @pytest.fixture
    def harness(self, fake: FakeGraph) -> OutlookHarness:
        cid = fake.add_calendar("No delta here")
        fake.delta_unsupported.add(cid)
        return OutlookHarness(fake, cid)


def test_t0_is_inside_the_window() -> None:
    """The contract's fixed instant lies inside the window the harness clock implies."""
    assert utc(2030, 3, 4, 9) == T0 and NOW < T0
