"""Wiring for idealweek's tests: a provider on a fake Graph, midnight of a day."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from tests.fakes.graph.server import FakeGraph


def day(d: date, zone: tzinfo = UTC) -> datetime:
    """Midnight of ``d`` in ``zone`` (all-day test events)."""
    return datetime.combine(d, datetime.min.time(), zone)


def provider_for(
    fake: FakeGraph,
    calendar_id: str = "",
    *,
    name: str = "work",
    clock: Callable[[], datetime] | None = None,
    page_size: int = 100,
    horizon: timedelta = timedelta(days=14),
    lookback: timedelta = timedelta(days=8),
    writable: bool = True,
    token: str = "test-token",
    sleeps: list[float] | None = None,
) -> Any:
    """An :class:`OutlookProvider` on ``fake`` with a fixed bearer token and recorded (not slept) backoff."""
    from idealweek.providers.base import RequestCounter
    from idealweek.providers.outlook import OutlookProvider
    from idealweek.providers.outlook.client import GraphClient

    record = sleeps if sleeps is not None else []
    client = GraphClient(
        fake.root,
        lambda force_refresh=False: token,
        mailbox=f"{fake.root}|{id(fake)}",
        counter=RequestCounter(),
        label=name,
        page_size=page_size,
        sleep=record.append,
        jitter=lambda: 0.5,
    )
    kwargs: dict[str, Any] = {}
    if clock is not None:
        kwargs["clock"] = clock
    return OutlookProvider(name, client, calendar_id, writable=writable, horizon=horizon, lookback=lookback, **kwargs)
