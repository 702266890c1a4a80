"""Build the provider for a configured calendar.

Service modules are imported lazily so ``idealweek --help`` stays fast.  Each
service module (``google``, ``outlook``) exposes:

* ``make_provider(settings, config_path, name, secrets) -> Provider``
* ``sign_in(settings, config_path, account, secrets, **options) -> None``
* ``list_calendars(settings, config_path, account, secrets) -> list[CalendarInfo]``
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from idealweek.config import Settings, resolve_path
from idealweek.errors import AuthError, ProviderError, UserError
from idealweek.model import WRITE_ROLES
from idealweek.providers.base import Provider, UnavailableProvider

if TYPE_CHECKING:
    from idealweek.secrets import SecretStore


def make_provider(settings: Settings, config_path: Path, name: str, secrets: SecretStore | None) -> Provider:
    """The provider for calendar ``name`` of the config.

    A service calendar whose provider cannot be built (its account is not signed in, its sign-in is
    damaged) becomes an :class:`UnavailableProvider`: that calendar fails, the others run (SPEC §6.11).
    """
    try:
        return _make_provider(settings, config_path, name, secrets)
    except ProviderError as exc:
        cal = settings.calendars[name]
        writable = bool(WRITE_ROLES & set(cal.roles))
        return UnavailableProvider(
            name,
            str(exc),
            writable=writable,
            auth=isinstance(exc, AuthError),
            rebuild=lambda: _make_provider(settings, config_path, name, secrets),
        )


def _make_provider(settings: Settings, config_path: Path, name: str, secrets: SecretStore | None) -> Provider:
    cal = settings.calendars[name]
    writable = bool(WRITE_ROLES & set(cal.roles))
    if cal.source == "vdir":
        from idealweek.providers.vdir import VdirProvider

        path = resolve_path(config_path, cal.path)
        return VdirProvider(
            name, path, writable=writable, zone=settings.zone, create_folder=cal.create, reach=local_reach(settings)
        )
    if cal.source == "ics":
        from idealweek.providers.ics import IcsProvider

        if cal.url:
            limit = cal.max_size_mb * 1024 * 1024
            return IcsProvider(name, url=cal.url, zone=settings.zone, reach=local_reach(settings), max_bytes=limit)
        path = resolve_path(config_path, cal.path)
        return IcsProvider(name, path=path, zone=settings.zone, reach=local_reach(settings))
    if secrets is None:
        raise UserError(f"calendars.{name}: a {cal.source} calendar needs a secret store for its sign-in")
    if cal.source == "google":
        from idealweek.providers import google

        return google.make_provider(settings, config_path, name, secrets)
    if cal.source == "outlook":
        from idealweek.providers import outlook

        return outlook.make_provider(settings, config_path, name, secrets)
    if cal.source == "caldav":
        from idealweek.providers import caldav

        return caldav.make_provider(settings, config_path, name, secrets)
    raise UserError(f"calendars.{name}.source: unknown source {cal.source!r}")


def local_reach(settings: Settings) -> tuple[timedelta, timedelta]:
    """How far back and ahead local calendars are read: the planning horizon plus the history the planner needs.

    Back: what the state keeps (:func:`idealweek.retention.history_lookback`: the longest catch-up look-back and
    at least last ISO week) plus a day, so that a full listing never misses an event the state still counts;
    ahead: the horizon plus a margin.  Recurring events are expanded over this window only.
    """
    from idealweek.retention import history_lookback

    return history_lookback(settings.longest_within) + timedelta(days=1), settings.horizon + timedelta(days=2)


def needs_secrets(settings: Settings) -> bool:
    """True when some calendar lives on an online service."""
    return any(c.source in ("google", "outlook", "caldav") for c in settings.calendars.values())
