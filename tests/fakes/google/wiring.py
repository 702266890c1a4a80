"""Wiring for idealweek's tests: settings, a signed-in secret store and a provider pointing at a fake."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tests.fakes.google.server import GoogleFake


def google_settings(
    fake: GoogleFake,
    calendars: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    timezone: str = "Europe/Berlin",
    account: str = "work",
    **extra: Any,
) -> Any:
    """Settings with one Google account pointing at ``fake`` (default: the primary calendar, meetings + blocks)."""
    from idealweek.config import Settings

    cals = calendars or {
        "work": {"source": "google", "account": account, "id": "primary", "roles": ["meetings", "blocks"]}
    }
    doc: dict[str, Any] = {
        "timezone": timezone,
        "accounts": {account: {"provider": "google", "api_root": fake.api_root, "token_uri": fake.token_uri}},
        "calendars": {name: dict(cal) for name, cal in cals.items()},
        **extra,
    }
    return Settings.model_validate(doc)


def signed_in(fake: GoogleFake, account: str = "work", store: Any = None) -> Any:
    """A secret store holding a valid sign-in of ``account`` on ``fake``."""
    from idealweek.secrets import MemoryStore

    store = store if store is not None else MemoryStore()
    store.set(f"token:{account}", fake.issue_token())
    return store


def google_provider(
    fake: GoogleFake,
    name: str = "work",
    *,
    calendars: Mapping[str, Mapping[str, Any]] | None = None,
    sleeps: list[float] | None = None,
    attempts: int = 5,
    store: Any = None,
    **settings: Any,
) -> Any:
    """A :class:`GoogleProvider` for calendar ``name`` on ``fake``; backoff sleeps are recorded, not slept."""
    from pathlib import Path

    from idealweek.providers.google import RetryPolicy, make_provider

    record = sleeps if sleeps is not None else []
    retry = RetryPolicy(attempts=attempts, sleep=record.append, jitter=lambda: 0.5)
    cfg = google_settings(fake, calendars, **settings)
    return make_provider(cfg, Path("config.toml"), name, store if store is not None else signed_in(fake), retry=retry)
