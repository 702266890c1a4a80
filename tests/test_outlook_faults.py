"""Throttling and faults: Retry-After, backoff with jitter, dropped connections, 401s, the mailbox limit."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest

from idealweek.errors import AuthError, TransientError
from idealweek.model import utc
from idealweek.providers.base import RequestCounter
from idealweek.providers.outlook import OutlookProvider
from idealweek.providers.outlook.client import GraphClient, RetryPolicy
from tests.fakes.graph_server import FakeGraph, Fault, provider_for

NOW = utc(2030, 3, 4, 8)
H = timedelta(hours=1)


@pytest.fixture
def fake() -> Iterator[FakeGraph]:
    with FakeGraph() as graph:
        graph.user_add("m", NOW + H, NOW + 2 * H)
        yield graph


def make(fake: FakeGraph, sleeps: list[float]) -> OutlookProvider:
    p: OutlookProvider = provider_for(fake, clock=lambda: NOW, sleeps=sleeps)
    return p


@pytest.mark.parametrize("status", [429, 503])
def test_throttling_waits_retry_after_then_succeeds(fake: FakeGraph, status: int) -> None:
    """429 and 503 with Retry-After: wait exactly that long, then the read succeeds."""
    sleeps: list[float] = []
    fake.inject(Fault(status=status, retry_after=7, code="TooManyRequests", match="delta", times=2))
    cs = make(fake, sleeps).read_changes(None)
    assert len(cs.upserts) == 1
    assert sleeps == [7.0, 7.0]


def test_server_errors_back_off_exponentially_with_jitter(fake: FakeGraph) -> None:
    """5xx without Retry-After: truncated exponential backoff with jitter between attempts."""
    sleeps: list[float] = []
    fake.inject(Fault(status=500, code="InternalServerError", match="delta", times=2))
    fake.inject(Fault(status=502, code="BadGateway", match="delta"))
    p = make(fake, sleeps)
    assert len(p.read_changes(None).upserts) == 1
    assert len(sleeps) == 3 and sleeps[0] < sleeps[1] < sleeps[2]
    assert p.requests.by_kind["delta"] == 4


def test_persistent_outage_becomes_transient_error(fake: FakeGraph) -> None:
    """After the last attempt the fault is reported as TransientError carrying Retry-After."""
    sleeps: list[float] = []
    fake.inject(Fault(status=503, retry_after=3, match="delta", times=10))
    p = make(fake, sleeps)
    with pytest.raises(TransientError) as info:
        p.read_changes(None)
    assert info.value.retry_after == 3
    assert p.requests.total == RetryPolicy().attempts == fake.count("GET", "delta")


def test_long_retry_after_is_not_slept_through(fake: FakeGraph) -> None:
    """A Retry-After longer than the cap ends the cycle at once (the daemon waits, not the request)."""
    sleeps: list[float] = []
    fake.inject(Fault(status=429, retry_after=3600, match="delta"))
    with pytest.raises(TransientError) as info:
        make(fake, sleeps).read_changes(None)
    assert info.value.retry_after == 3600 and sleeps == []


def test_dropped_connection_is_retried(fake: FakeGraph) -> None:
    """A connection closed without an answer is retried; every attempt is counted."""
    sleeps: list[float] = []
    fake.inject(Fault(drop=True, match="delta"))
    p = make(fake, sleeps)
    assert len(p.read_changes(None).upserts) == 1
    assert len(sleeps) == 1 and p.requests.by_kind["delta"] == 2


def test_unreachable_service_is_transient() -> None:
    """Nothing listening (service down, network gone) → TransientError, not a crash."""
    with FakeGraph() as graph:
        p: OutlookProvider = provider_for(graph, clock=lambda: NOW, sleeps=[])
    with pytest.raises(TransientError):
        p.read_changes(None)


def test_fault_in_the_middle_of_paging_is_retried(fake: FakeGraph) -> None:
    """A throttled nextLink page is retried; the round completes without losing events."""
    for i in range(5):
        fake.user_add(f"x{i}", NOW + (i + 3) * H, NOW + (i + 4) * H)
    fake.max_page = 2
    fake.inject(Fault(status=429, retry_after=1, match="delta"))
    sleeps: list[float] = []
    p = make(fake, sleeps)
    first_page_then_fault = p.read_changes(None)
    assert len(first_page_then_fault.upserts) == 6 and sleeps == [1.0]


def test_rejected_token_is_refreshed_once() -> None:
    """A 401 makes the provider refresh the token and retry once; a second 401 is an AuthError."""
    calls: list[bool] = []
    current = ["old"]

    def tokens(force_refresh: bool = False) -> str:
        calls.append(force_refresh)
        if force_refresh:
            current[0] = "new"
        return current[0]

    with FakeGraph(tokens={"new"}) as graph:
        graph.user_add("m", NOW + H, NOW + 2 * H)
        client = GraphClient(
            graph.root, tokens, mailbox="t", counter=RequestCounter(), label="work", sleep=lambda s: None
        )
        p = OutlookProvider("work", client, clock=lambda: NOW)
        assert len(p.read_changes(None).upserts) == 1
        assert calls.count(True) == 1
        graph.tokens.clear()
        with pytest.raises(AuthError, match="idealweek auth outlook"):
            p.read_changes(None)


def test_forbidden_is_an_auth_error_with_a_hint(fake: FakeGraph) -> None:
    """403 (missing consent or a shared calendar without .Shared) is an AuthError naming the scopes."""
    fake.inject(Fault(status=403, code="ErrorAccessDenied", match="delta"))
    with pytest.raises(AuthError, match=r"Calendars\.ReadWrite"):
        make(fake, []).read_changes(None)


def test_at_most_four_concurrent_requests_per_mailbox(fake: FakeGraph) -> None:
    """Calendars of one account share a semaphore: never more than 4 requests in flight."""
    fake.latency = 0.03
    cid = fake.add_calendar("Side")
    a: OutlookProvider = provider_for(fake, clock=lambda: NOW)
    b: OutlookProvider = provider_for(fake, cid, clock=lambda: NOW)
    errors: list[BaseException] = []

    def work(p: OutlookProvider) -> None:
        try:
            p.read_changes(None)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(a if i % 2 else b,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert 1 < fake.max_inflight <= 4
