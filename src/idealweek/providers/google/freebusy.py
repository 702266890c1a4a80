"""Google ``freeBusy.query`` for a free/busy-only household calendar (issue 18).

Scope ``calendar.freebusy``.  One request asks for up to 50 calendars over a span of about 90 days at
most; a calendar the account may not see comes back with ``errors: [{"reason": "notFound"}]`` in its
entry rather than as a failed request.  A partner who shares "See only free/busy" is a
``freeBusyReader``: their calendar id (their address) is enough.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from idealweek.errors import ProviderError, TransientError
from idealweek.model import Interval
from idealweek.providers.freebusy import windows
from idealweek.providers.google.client import ApiError, GoogleClient
from idealweek.providers.google.resources import FreeBusyRequest, FreeBusyResource

LONGEST = timedelta(days=89)
"""Google answers ``timeRangeTooLong`` past about 90 days."""


def _rfc3339(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse(text: object) -> datetime:
    if not isinstance(text, str):
        raise ValueError("not a time")
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError("time without offset")
    return value.astimezone(UTC)


def google_busy(client: GoogleClient, name: str, calendar_id: str) -> Callable[[datetime, datetime], list[Interval]]:
    """``busy(lo, hi)`` for :class:`~idealweek.providers.freebusy.FreeBusyProvider`: one query per ≤ 89 days."""
    resource: FreeBusyResource | None = None

    def busy(lo: datetime, hi: datetime) -> list[Interval]:
        nonlocal resource
        if resource is None:
            resource = client.service.freebusy()
        out: list[Interval] = []
        for a, b in windows(lo, hi, LONGEST):
            body: FreeBusyRequest = {
                "timeMin": _rfc3339(a),
                "timeMax": _rfc3339(b),
                "timeZone": "UTC",
                "items": [{"id": calendar_id}],
            }
            try:
                answer = client.execute(resource.query(body=body), "freebusy.query")
            except ApiError as exc:
                if exc.status == 403 and exc.reason == "insufficientPermissions":
                    raise ProviderError(
                        f"{name}: the sign-in of account {client.account!r} does not include free/busy; "
                        f"sign in again with `idealweek auth google {client.account}`"
                    ) from None
                raise
            entry = (answer.get("calendars") or {}).get(calendar_id) if isinstance(answer, dict) else None
            if not isinstance(entry, dict):
                raise ProviderError(f"{name}: Google's free/busy answer has no entry for {calendar_id!r}")
            reasons = [str(e.get("reason", "")) for e in entry.get("errors") or [] if isinstance(e, dict)]
            if "notFound" in reasons:
                raise ProviderError(
                    f"{name}: Google shows no free/busy of {calendar_id!r} to this account (notFound); "
                    'ask them to share their calendar with you ("See only free/busy" is enough)'
                )
            if reasons:
                raise TransientError(f"{name}: Google could not compute free/busy ({', '.join(reasons)})")
            for period in entry.get("busy") or []:
                try:
                    s, e = _parse(period.get("start")), _parse(period.get("end"))
                except (ValueError, AttributeError):
                    continue  # one unreadable period is skipped, the rest used
                if e > s:
                    out.append(Interval(s, e))
        return sorted(out)

    return busy
