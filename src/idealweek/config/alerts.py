"""``[alerts]``: apprise URLs (secrets as ``{secret:NAME}``), quiet hours, what is sent, the weekly digest."""

from __future__ import annotations

import re
from datetime import time, timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator

from idealweek.config.base import _Model
from idealweek.config.types import Clock, Duration

SECRET_REF = re.compile(r"\{secret:([A-Za-z0-9_.-]+)\}")
"""``{secret:NAME}`` in an alert URL: the value of ``alert:NAME`` from the secret store."""


def _check_alert_url(url: str) -> str:
    rest = SECRET_REF.sub("", url)
    if "{" in rest or "}" in rest:
        raise ValueError("write a secret as {secret:NAME} (letters, digits, _ . -)")
    if "://" not in url:
        raise ValueError("not an apprise URL (expected SCHEME://…, e.g. ntfy://host/topic)")
    return url


AlertUrl = Annotated[str, AfterValidator(_check_alert_url)]


class QuietHours(_Model):
    """No alerts between ``start`` and ``end`` (local time; past midnight when end < start)."""

    start: Clock = time(21)
    """Local start of the quiet hours."""
    end: Clock = time(7)
    """Local end of the quiet hours."""


class Alerts(_Model):
    """``[alerts]``: what idealweek tells you unasked, and through which channels (apprise URLs)."""

    urls: tuple[AlertUrl, ...] = ()
    """Apprise URLs (ntfy://, gotify://, mailto://, tgram://, matrix://, json:// …); write a secret in one as
    ``{secret:NAME}`` and store it with ``idealweek alerts secret NAME``."""
    include_titles: bool = False
    """Put event titles (meetings, personal events, protect rule titles) in alerts; off by default."""
    quiet_hours: QuietHours | Literal[False] = QuietHours()
    """No alerts in these hours except sign-in failures (held until they end); ``false`` for none."""
    violations: bool = True
    """A meeting on a ``hard`` block (a boundary violation), as soon as it is seen."""
    debt: bool = True
    """Debt that became overdue, or that cannot be placed before its deadline."""
    signin: bool = True
    """A sign-in that failed, or (``google_testing``) that will expire soon."""
    google_testing: tuple[str, ...] = ()
    """Google accounts whose OAuth app is in "Testing" status: their sign-in expires after 7 days."""
    signin_warn_before: Duration = timedelta(days=1)
    """How long before a Google testing sign-in expires to warn."""
    daemon_failing: bool = True
    """Alert when every sync cycle has failed for daemon_failing_after."""
    daemon_failing_after: Duration = timedelta(minutes=30)
    """Alert when every cycle has failed for this long."""
    digest: bool = True
    """The weekly look back, through the same channels (also written as digest.html in the state directory)."""
    digest_day: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "sun"
    """Day of the weekly digest (mon..sun)."""
    digest_time: Clock = time(18)
    """Local time of the weekly digest."""
