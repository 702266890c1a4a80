"""What is worth an alert, decided from a cycle's figures (pure: no I/O, no clock).

Each alert has a *subject*: the thing it is about.  The sent-log holds each
subject at most once per channel, so an alert is sent once however many
cycles see the same thing:

* ``violation:<block id>`` — a meeting on a ``hard`` block whose time has not
  ended more than a day ago (older history is not news);
* ``debt-late:<debt id>`` — debt that cannot be placed before its deadline,
  ``debt-overdue:<debt id>`` — debt whose deadline passed unpaid less than a
  week ago (so turning alerts on does not send the whole ledger's past);
* ``signin-failed:<account>`` — forgotten again once the account's calendars
  read fine, so a later failure alerts anew; never held by quiet hours;
* ``signin-expiring:<account>:<fingerprint>`` — a Google sign-in of an app in
  "Testing" status nearing its 7 days;
* ``daemon-failing:<start of the failing streak>``.

No event titles unless ``include_titles``: the texts name categories (from the
config), times and minutes.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from idealweek.config import QuietHours, Settings
from idealweek.model import DebtStatus, Policy

if TYPE_CHECKING:
    from idealweek.planner import Plan

GOOGLE_TESTING_LIFETIME = timedelta(days=7)
"""Refresh tokens of Google OAuth apps in "Testing" publishing status expire after 7 days."""
VIOLATION_NEWS = timedelta(days=1)
"""A violation is alerted while its block ended less than this long ago."""
DEBT_NEWS = timedelta(days=7)
"""Overdue debt is alerted while its deadline passed less than this long ago (the ledger keeps older)."""


class AlertKind(enum.StrEnum):
    VIOLATION = "violation"
    DEBT = "debt"
    SIGNIN = "signin"
    DAEMON = "daemon"
    DIGEST = "digest"
    TEST = "test"


@dataclass(frozen=True)
class Alert:
    subject: str
    kind: AlertKind
    title: str
    body: str
    urgent: bool = False
    """Sent in quiet hours too (sign-in failures)."""


def in_quiet_hours(quiet: QuietHours | bool, now: datetime, zone: ZoneInfo) -> bool:
    """Is local ``now`` inside the quiet hours (``start`` ≤ t < ``end``, past midnight when end < start)?"""
    if not isinstance(quiet, QuietHours):
        return False
    t = now.astimezone(zone).time().replace(tzinfo=None)
    start, end = quiet.start, quiet.end
    if end == time.max:
        end = time(23, 59, 59, 999999)
    if start <= end:
        return start <= t < end
    return t >= start or t < end


def _when(t: datetime, zone: ZoneInfo) -> str:
    return f"{t.astimezone(zone):%a %d %b %H:%M}"


def _span(a: datetime, b: datetime, zone: ZoneInfo) -> str:
    return f"{_when(a, zone)}–{b.astimezone(zone):%H:%M}"


def _minutes(m: int) -> str:
    h, r = divmod(m, 60)
    return f"{h} h {r:02d} min" if h and r else f"{h} h" if h else f"{r} min"


@dataclass(frozen=True)
class BlockHit:
    """A meeting on a hard block, as much as an alert may tell."""

    block_id: str
    category: str
    start: datetime
    end: datetime
    minutes: int
    block_title: str
    meeting_titles: tuple[str, ...]


@dataclass(frozen=True)
class LateDebt:
    debt_id: str
    category: str
    minutes: int
    deadline: datetime
    overdue: bool
    """The deadline has passed (else: it cannot be placed before the deadline)."""
    reason: str = ""
    """Why it found no time, when the planner knows (``no time when the household is free``)."""


def plan_facts(plan: Plan, now: datetime) -> tuple[list[BlockHit], list[LateDebt]]:
    """The facts of a planner result that alerts are about."""
    # intrusions name their meetings ``calendar:uid``
    meetings = {f"{ev.calendar}:{ev.uid}": ev for ev in plan.meetings}
    hits: list[BlockHit] = []
    for it in plan.intrusions:
        b = it.block
        if b.policy != Policy.HARD or b.end <= now - VIOLATION_NEWS:
            continue
        titles = tuple(meetings[u].title for u in it.meetings if u in meetings and meetings[u].title)
        hits.append(BlockHit(b.id, b.category, b.start, b.end, it.minutes, b.title, titles))
    late: list[LateDebt] = []
    for st in plan.debts:
        if st.status != DebtStatus.OVERDUE:
            continue
        owed = st.unplaced + st.scheduled
        d = st.debt
        if d.deadline <= now - DEBT_NEWS:
            continue
        late.append(LateDebt(d.id, d.category, owed, d.deadline, d.deadline <= now, st.reason))
    return hits, late


def violation_alerts(settings: Settings, hits: Sequence[BlockHit]) -> list[Alert]:
    zone, titles = settings.zone, settings.alerts.include_titles
    out = []
    for h in hits:
        what = settings.category_title(h.category)
        if titles and h.block_title:
            what += f" ({h.block_title})"
        body = f"A meeting is on your hard block {what}, {_span(h.start, h.end, zone)}: {_minutes(h.minutes)} taken."
        if titles and h.meeting_titles:
            body += " Meeting: " + ", ".join(h.meeting_titles) + "."
        body += " Hard blocks are not made up: move the meeting, or decline it."
        out.append(Alert(f"violation:{h.block_id}", AlertKind.VIOLATION, "idealweek: boundary violation", body))
    return out


def debt_alerts(settings: Settings, late: Sequence[LateDebt]) -> list[Alert]:
    zone = settings.zone
    out = []
    for d in late:
        cat = settings.category_title(d.category)
        if d.overdue:
            body = (
                f"{_minutes(d.minutes)} of {cat} debt is overdue: its deadline {_when(d.deadline, zone)} passed "
                "before it was made up. idealweek keeps offering it the next free slot."
            )
            out.append(Alert(f"debt-overdue:{d.debt_id}", AlertKind.DEBT, "idealweek: debt overdue", body))
        elif d.reason:
            body = (
                f"{_minutes(d.minutes)} of {cat} debt cannot be placed before its deadline "
                f"{_when(d.deadline, zone)}: {d.reason}. idealweek keeps offering it the next time you are all free."
            )
            out.append(
                Alert(f"debt-late:{d.debt_id}", AlertKind.DEBT, "idealweek: debt cannot be made up in time", body)
            )
        else:
            body = (
                f"{_minutes(d.minutes)} of {cat} debt cannot be placed before its deadline "
                f"{_when(d.deadline, zone)}: there is no free time left in its make-up windows. Widen "
                f"categories.{d.category}.windows, lengthen catch_up.within, or free some time."
            )
            out.append(
                Alert(f"debt-late:{d.debt_id}", AlertKind.DEBT, "idealweek: debt cannot be made up in time", body)
            )
    return out


def fix_command(settings: Settings, account: str) -> str:
    acct = settings.accounts.get(account)
    provider = acct.provider if acct is not None else "google"
    return f"idealweek auth {provider} {account}"


def signin_failed_alert(settings: Settings, account: str, reason: str) -> Alert:
    cmd = fix_command(settings, account)
    body = (
        f"The sign-in of account {account!r} failed, so its calendars are not synced: {reason} "
        f"Fix: run `{cmd}` (on a headless server: sign in on another machine, then "
        f"`idealweek auth export {account}` there and `idealweek auth import {account}` here)."
    )
    return Alert(f"signin-failed:{account}", AlertKind.SIGNIN, "idealweek: sign-in failed", body, urgent=True)


def signin_expiring_alert(
    settings: Settings, account: str, fingerprint: str, first_seen: datetime, now: datetime
) -> Alert | None:
    """The warning for a Google "Testing" sign-in that expires within ``signin_warn_before``, else None."""
    expires = first_seen + GOOGLE_TESTING_LIFETIME
    if now < expires - settings.alerts.signin_warn_before:
        return None
    zone = settings.zone
    state = "expired" if now >= expires else "will expire"
    body = (
        f"The Google sign-in of account {account!r} {state} about {_when(expires, zone)} (first used "
        f'{_when(first_seen, zone)}; apps in Google\'s "Testing" status get 7-day sign-ins). Sign in again '
        f'with `{fix_command(settings, account)}`, or set the app to "In production" in Google Cloud console.'
    )
    return Alert(f"signin-expiring:{account}:{fingerprint}", AlertKind.SIGNIN, "idealweek: sign-in expiring", body)


def daemon_failing_alert(settings: Settings, since: datetime, now: datetime, last_error: str) -> Alert | None:
    """The alert for a failing streak that has lasted ``daemon_failing_after``, else None."""
    if now - since < settings.alerts.daemon_failing_after:
        return None
    mins = int((now - since).total_seconds() // 60)
    body = (
        f"idealweek has failed every sync cycle for {_minutes(mins)} (since {_when(since, settings.zone)}). "
        f"Last error: {last_error or 'unknown'}. Run `idealweek doctor`, and see the service log "
        "(`journalctl --user -u idealweek`)."
    )
    return Alert(f"daemon-failing:{since.isoformat()}", AlertKind.DAEMON, "idealweek: sync is failing", body)


def accounts_of(settings: Settings, calendars: Mapping[str, object]) -> dict[str, list[str]]:
    """account → the given calendars of that account (calendars without an account are left out)."""
    out: dict[str, list[str]] = {}
    for name in sorted(calendars):
        cal = settings.calendars.get(name)
        if cal is not None and cal.account:
            out.setdefault(cal.account, []).append(name)
    return out
