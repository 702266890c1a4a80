"""``idealweek doctor``: one pass/fail line per check, non-zero exit when something is wrong.

``check`` holds one line of the output, ``local`` the checks of this machine, ``network``
those over the network.  Checks: the config, the secret store, each account's sign-in, reachability of
each service endpoint (TCP, and TLS for https), local calendar paths and ICS
URLs, the state database (read-only: a diagnosis never changes anything) and
the clock and time zone.  Nothing here writes to a calendar.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, TextIO

from idealweek import config as cfg
from idealweek.clock import Clock, system_clock
from idealweek.doctor.check import GOOGLE_API_ROOT, GOOGLE_TOKEN_URI, MAX_SKEW_S, TIMEOUT, Check
from idealweek.doctor.local import (
    _alerts,
    _calendars,
    _empty_meetings,
    _permissions,
    _secret_store,
    _settling,
    _sign_ins,
    _state,
)
from idealweek.doctor.network import _clock, _endpoints, _transport, reachable

if TYPE_CHECKING:
    from idealweek.app import App
    from idealweek.secrets import SecretStore


def run(app: App, out: TextIO | None = None, timeout: float = TIMEOUT, clock: Clock = system_clock) -> int:
    """Run every check, print one line each and a verdict; 0 when nothing failed."""
    stream = out or sys.stdout
    failed = warned = 0
    for check in checks(app, timeout, clock):
        print(check.line(), file=stream, flush=True)
        failed += check.ok is False
        warned += check.warn and check.ok is not False
    verdict = "all checks passed" if not failed else f"{failed} check(s) failed"
    print(verdict + (f", {warned} warning(s)" if warned else ""), file=stream)
    return 1 if failed else 0


def checks(app: App, timeout: float = TIMEOUT, clock: Clock = system_clock) -> Iterator[Check]:
    """Every check in order; the secret store opened by one check is used by the sign-in checks."""
    s = app.settings
    yield Check(
        "config",
        True,
        f"{app.config_path}: {len(s.calendars)} calendars, {len(s.accounts)} accounts, time zone {s.timezone}",
    )
    for gap in cfg.what_is_missing(s):  # valid, but it would do nothing (or less than it seems)
        yield Check("config", True, gap, warn=True)
    opened: list[SecretStore] = []
    yield from _secret_store(app, opened)
    yield from _sign_ins(app, opened[0] if opened else None)
    yield from _alerts(app, opened[0] if opened else None)
    yield from _transport(app)
    yield from _endpoints(app, timeout)
    yield from _calendars(app, timeout)
    yield _state(app)
    yield from _empty_meetings(app)
    yield from _settling(app)
    yield from _permissions(app)
    yield from _clock(app, timeout, clock)


__all__ = ["GOOGLE_API_ROOT", "GOOGLE_TOKEN_URI", "MAX_SKEW_S", "TIMEOUT", "Check", "checks", "reachable", "run"]
