"""Google provider under faults: rate limits, 5xx, dropped connections, Retry-After, retry budget."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from idealweek.errors import ProviderError, TransientError
from idealweek.model import utc
from idealweek.providers.google import EventExists, RetryPolicy
from idealweek.providers.google.client import parse_retry_after
from tests.contract import desired
from tests.fakes.google_server import GoogleFake, google_provider

T0 = utc(2030, 3, 4, 9)
H = timedelta(hours=1)


@pytest.fixture
def fake() -> Iterator[GoogleFake]:
    with GoogleFake(page_size=50) as f:
        f.user_add("primary", "A", T0, T0 + H)
        yield f


def read_with_sleeps(fake: GoogleFake, attempts: int = 5) -> tuple[list[str], list[float], int]:
    sleeps: list[float] = []
    p = google_provider(fake, sleeps=sleeps, attempts=attempts)
    try:
        titles = [e.title for e in p.read_changes(None).upserts]
        return titles, sleeps, p.requests.total
    finally:
        p.close()


def test_429_with_retry_after_waits_as_told(fake: GoogleFake) -> None:
    """429 with Retry-After is retried after exactly that many seconds."""
    fake.fail(429, retry_after="7")
    titles, sleeps, requests = read_with_sleeps(fake)
    assert titles == ["A"] and sleeps == [7.0] and requests == 2


def test_429_without_retry_after_backs_off_with_jitter(fake: GoogleFake) -> None:
    """429 without Retry-After uses exponential backoff with jitter, doubling each time."""
    fake.fail(429, times=3)
    titles, sleeps, requests = read_with_sleeps(fake)
    assert titles == ["A"] and requests == 4
    assert sleeps == [0.75, 1.5, 3.0]  # span 1, 2, 4 with jitter 0.5: span/2 + 0.5*span/2


@pytest.mark.parametrize("reason", ["rateLimitExceeded", "userRateLimitExceeded"])
def test_403_rate_limits_are_retried(fake: GoogleFake, reason: str) -> None:
    """403 rateLimitExceeded and userRateLimitExceeded are rate limits, retried."""
    fake.fail(403, reason=reason, times=2)
    titles, sleeps, _ = read_with_sleeps(fake)
    assert titles == ["A"] and len(sleeps) == 2


def test_403_forbidden_is_not_retried(fake: GoogleFake) -> None:
    """A 403 that is not a rate limit fails at once."""
    fake.fail(403, reason="forbidden")
    with pytest.raises(ProviderError) as info:
        read_with_sleeps(fake)
    assert not isinstance(info.value, TransientError) and "403" in str(info.value)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retried(fake: GoogleFake, status: int) -> None:
    """5xx answers are transient and retried."""
    fake.fail(status, times=2)
    titles, sleeps, requests = read_with_sleeps(fake)
    assert titles == ["A"] and len(sleeps) == 2 and requests == 3


def test_dropped_connections_are_retried(fake: GoogleFake) -> None:
    """Connections dropped before an answer are retried until the request goes through."""
    fake.drop_connection(times=3)
    titles, sleeps, _ = read_with_sleeps(fake)
    assert titles == ["A"] and len(sleeps) >= 1


def test_retry_budget_exhausted_raises_transient(fake: GoogleFake) -> None:
    """After the retry budget a TransientError goes up (the next cycle tries again); the backoff is capped."""
    fake.fail(503, times=100)
    sleeps: list[float] = []
    p = google_provider(fake, sleeps=sleeps, attempts=8)
    try:
        with pytest.raises(TransientError) as info:
            p.read_changes(None)
        assert "503" in str(info.value)
        assert len(sleeps) == 7 and max(sleeps) <= RetryPolicy().cap
        assert sleeps == sorted(sleeps)
        assert p.requests.reads == 8
    finally:
        p.close()


def test_long_retry_after_is_not_waited_for(fake: GoogleFake) -> None:
    """A Retry-After beyond the wait limit raises TransientError carrying it instead of blocking."""
    fake.fail(429, retry_after="3600")
    sleeps: list[float] = []
    p = google_provider(fake, sleeps=sleeps)
    try:
        with pytest.raises(TransientError) as info:
            p.read_changes(None)
        assert info.value.retry_after == 3600.0 and sleeps == []
    finally:
        p.close()


def test_retry_after_http_date_is_understood() -> None:
    """Retry-After given as an HTTP date is turned into seconds from now."""
    now = datetime(2030, 1, 1, 12, tzinfo=UTC)
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), lambda: now) == 30.0
    assert parse_retry_after("2", lambda: now) == 2.0
    assert parse_retry_after("soon", lambda: now) is None and parse_retry_after(None) is None


def test_bad_request_is_not_retried(fake: GoogleFake) -> None:
    """A 400 is a bug or bad data, not a fault: no retry."""
    fake.fail(400, reason="invalid")
    sleeps: list[float] = []
    p = google_provider(fake, sleeps=sleeps)
    try:
        with pytest.raises(ProviderError):
            p.read_changes(None)
        assert sleeps == [] and p.requests.total == 1
    finally:
        p.close()


def test_insert_retried_after_5xx_is_written_once(fake: GoogleFake) -> None:
    """A create that meets a 503 is retried and leaves exactly one event."""
    fake.fail(503, method="POST")
    p = google_provider(fake)
    try:
        ev = p.create(desired("work", "makeup:family:1", T0))
        assert [e["id"] for e in fake.owned_events()] == [ev.uid]
        assert p.requests.writes == 2
    finally:
        p.close()


def test_insert_whose_answer_was_lost_leaves_no_duplicate(fake: GoogleFake) -> None:
    """If the connection drops after Google stored the event, the retry's 409 reveals our own event."""
    fake.drop_connection(after=True, method="POST", times=2)
    d = desired("work", "makeup:family:2", T0)
    p = google_provider(fake)
    try:
        with pytest.raises(EventExists) as info:
            p.create(d)
        assert info.value.existing.tag == d.tag and not info.value.deleted
        assert len(fake.owned_events()) == 1
    finally:
        p.close()


def test_patch_retried_after_lost_answer_is_recognised(fake: GoogleFake) -> None:
    """A patch whose answer was lost meets 412 on the retry; the provider sees its own change and succeeds."""
    p = google_provider(fake)
    try:
        ev = p.create(desired("work", "makeup:family:3", T0))
        fake.drop_connection(after=True, method="PATCH", times=2)
        moved = desired("work", "makeup:family:3", T0 + 2 * H)
        after = p.update(ev, moved)
        assert len(fake.requests_to("PATCH")) == 3  # applied+lost, 412+lost, 412
        assert after.start == T0 + 2 * H and after.tag == moved.tag
        (owned,) = p.list_owned()
        assert owned.start == T0 + 2 * H and owned.etag == after.etag
    finally:
        p.close()


def test_latency_is_tolerated(fake: GoogleFake) -> None:
    """A slow server is only slow: reads still complete."""
    fake.latency = 0.05
    titles, sleeps, _ = read_with_sleeps(fake)
    assert titles == ["A"] and sleeps == []
