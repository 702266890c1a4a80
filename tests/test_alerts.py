"""Alerts through real apprise to a loopback endpoint: each trigger once, quiet hours, no titles, secrets by name."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from idealweek.alerts.hook import AlertHook
from idealweek.config import Settings, loads
from idealweek.engine import CycleReport, Engine
from idealweek.errors import AuthError
from idealweek.providers.memory import MemoryCalendar, MemoryProvider
from idealweek.secrets import MemoryStore
from idealweek.store import Store
from tests.fakes.alert_sink import AlertSink
from tests.scenario import BASE_TOML, meeting

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = datetime(2026, 11, 2, 0, 0, tzinfo=BERLIN)
"""2026-W45."""


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return (MONDAY + timedelta(days=day)).replace(hour=hour, minute=minute)


def make_settings(url: str, alerts: str = "", top: str = "", google: bool = False) -> Settings:
    text = BASE_TOML.format(zone="Europe/Berlin", focus="4h")
    if google:
        text = text.replace(
            '[calendars.work]\nsource = "vdir"\npath = "work"',
            '[accounts.work]\nprovider = "google"\n\n'
            '[calendars.work]\nsource = "google"\naccount = "work"\nid = "primary"',
        )
    return loads(top + text + f'\n[alerts]\nurls = ["{url}"]\n{alerts}\n')


@pytest.fixture
def sink() -> Iterator[AlertSink]:
    s = AlertSink()
    yield s
    s.close()


class World:
    """Memory calendars, a real engine and store, and the hook a writing cycle calls."""

    def __init__(self, tmp: Path, settings: Settings, secrets: MemoryStore | None = None) -> None:
        self.settings = settings
        self.work, self.home = MemoryCalendar(), MemoryCalendar()
        self.store = Store(tmp / "state.sqlite3")
        self.now = at(0, 12)
        providers = {"work": MemoryProvider("work", self.work), "home": MemoryProvider("home", self.home)}
        self.engine = Engine(settings, self.store, providers, clock=lambda: self.now)
        self.hook = AlertHook(tmp / "config.toml", secrets=secrets or MemoryStore())

    def cycle(self, when: datetime) -> CycleReport:
        self.now = when
        report = self.engine.cycle()
        self.hook.after_cycle(self.settings, self.store, report)
        return report

    def close(self) -> None:
        self.store.close()


@pytest.fixture
def world(tmp_path: Path, sink: AlertSink) -> Iterator[World]:
    w = World(tmp_path, make_settings(sink.json_url, "quiet_hours = false"))
    yield w
    w.close()


def test_violation_is_sent_once_without_titles(world: World, sink: AlertSink) -> None:
    """A meeting on the hard pick-up block: one alert, not repeated by later cycles; no meeting or block title."""
    world.work.user_put(meeting(at(2, 15), 30, uid="clash", title="Secret merger talk"))
    world.cycle(at(0, 12))
    world.cycle(at(0, 13))
    world.cycle(at(1, 9))
    assert sink.titles() == ["idealweek: boundary violation"]
    msg = sink.received[0].message
    assert "Wed 04 Nov 15:00–15:30" in msg and "Family time" in msg and "30 min" in msg
    assert "Secret merger" not in msg and "School pick-up" not in msg
    assert sink.received[0].body["type"] == "warning"


def test_titles_only_when_asked(tmp_path: Path, sink: AlertSink) -> None:
    """include_titles = true puts the meeting's and the block's titles in the alert."""
    w = World(tmp_path, make_settings(sink.json_url, "quiet_hours = false\ninclude_titles = true"))
    try:
        w.work.user_put(meeting(at(2, 15), 30, uid="clash", title="Secret merger talk"))
        w.cycle(at(0, 12))
    finally:
        w.close()
    assert len(sink.received) == 1
    assert "Secret merger talk" in sink.received[0].message and "School pick-up" in sink.received[0].message


def test_old_violations_are_not_news(world: World, sink: AlertSink) -> None:
    """A violation whose block ended more than a day before the first cycle that sees it is not alerted."""
    world.work.user_put(meeting(at(2, 15), 30, uid="clash"))
    world.cycle(at(4, 12))
    assert sink.received == []


def test_quiet_hours_hold_alerts_until_they_end(tmp_path: Path, sink: AlertSink) -> None:
    """Seen at 22:00 inside quiet hours 21:00-07:00: nothing then; sent once by the first cycle after 07:00."""
    w = World(tmp_path, make_settings(sink.json_url, 'quiet_hours = { start = "21:00", end = "07:00" }'))
    try:
        w.work.user_put(meeting(at(2, 15), 30, uid="clash"))
        w.cycle(at(0, 22))
        w.cycle(at(1, 6, 59))
        assert sink.received == []
        w.cycle(at(1, 7, 0))
        w.cycle(at(1, 7, 1))
        assert sink.titles() == ["idealweek: boundary violation"]
        assert [s for s, *_ in w.store.alerts_sent()] == ["violation:family@15:00-15:30:2026-11-04"]
    finally:
        w.close()


def test_debt_that_cannot_be_placed_then_overdue(tmp_path: Path, sink: AlertSink) -> None:
    """Debt of a category without make-up windows: "cannot be made up in time" once, then "overdue" once."""
    extra = (
        '\n[categories.reading]\ntitle = "Reading"\n\n'
        '[[protect]]\ndays = "mon"\nstart = "20:00"\nend = "21:00"\ncategory = "reading"\n'
    )
    text = BASE_TOML.format(zone="Europe/Berlin", focus="4h").replace("[calendars.work]", extra + "\n[calendars.work]")
    s = loads(text + f'\n[alerts]\nurls = ["{sink.json_url}"]\nquiet_hours = false\n')
    w = World(tmp_path, s)
    try:
        w.work.user_put(meeting(at(0, 20), 45, uid="late-call"))
        w.cycle(at(0, 12))
        w.cycle(at(0, 18))
        assert sink.titles() == ["idealweek: debt cannot be made up in time"]
        assert "45 min of Reading debt" in sink.received[0].message
        w.cycle(at(1, 12))  # the block has passed: the debt is final
        w.cycle(at(7, 21))  # the deadline (7 days after the intrusion) has passed
        w.cycle(at(8, 12))
        assert sink.titles() == ["idealweek: debt cannot be made up in time", "idealweek: debt overdue"]
    finally:
        w.close()


def test_turning_alerts_on_does_not_send_the_ledgers_past(tmp_path: Path, sink: AlertSink) -> None:
    """Debt overdue for more than a week when debt alerts are switched on is not alerted (the ledger still has it)."""
    extra = (
        '\n[categories.reading]\ntitle = "Reading"\n\n'
        '[[protect]]\ndays = "mon"\nstart = "20:00"\nend = "21:00"\ncategory = "reading"\n'
    )
    text = BASE_TOML.format(zone="Europe/Berlin", focus="4h").replace("[calendars.work]", extra + "\n[calendars.work]")
    off = loads(text + f'\n[alerts]\nurls = ["{sink.json_url}"]\nquiet_hours = false\ndebt = false\n')
    on = loads(text + f'\n[alerts]\nurls = ["{sink.json_url}"]\nquiet_hours = false\n')
    w = World(tmp_path, off)
    try:
        w.work.user_put(meeting(at(0, 20), 45, uid="late-call"))
        for day in (0, 1, 7, 8, 15):
            w.cycle(at(day, 12))
        w.settings = w.engine.settings = on
        report = w.cycle(at(15, 13))
        assert any(d.status.value == "overdue" for d in report.plan.debts) if report.plan else False
        assert sink.received == []
    finally:
        w.close()


def test_switched_off_triggers_send_nothing(tmp_path: Path, sink: AlertSink) -> None:
    """violations = false: a meeting on a hard block sends nothing (and nothing is recorded as sent)."""
    w = World(tmp_path, make_settings(sink.json_url, "quiet_hours = false\nviolations = false"))
    try:
        w.work.user_put(meeting(at(2, 15), 30, uid="clash"))
        w.cycle(at(0, 12))
        assert sink.received == [] and w.store.alerts_sent() == []
    finally:
        w.close()


def test_signin_failure_alerts_in_quiet_hours_once_and_again_after_recovery(tmp_path: Path, sink: AlertSink) -> None:
    """A Google sign-in failure is sent even at 23:00, with the fixing command; once; again after it healed."""
    s = make_settings(sink.json_url, google=True)
    w = World(tmp_path, s)
    try:
        w.cycle(at(0, 12))
        w.work.fail_next.append(AuthError("Google refused the sign-in (invalid_grant)"))
        report = w.cycle(at(0, 23))
        assert report.auth_failed == {"work": "Google refused the sign-in (invalid_grant)"}
        w.work.fail_next.append(AuthError("still refused"))
        w.cycle(at(0, 23, 5))
        assert sink.titles() == ["idealweek: sign-in failed"]
        assert "`idealweek auth google work`" in sink.received[0].message
        w.cycle(at(1, 12))  # healed: the subject is forgotten
        w.work.fail_next.append(AuthError("refused again"))
        w.cycle(at(2, 12))
        assert sink.titles() == ["idealweek: sign-in failed"] * 2
    finally:
        w.close()


def test_google_testing_signin_warns_a_day_before_seven_days(tmp_path: Path, sink: AlertSink) -> None:
    """An account in google_testing: warned once about 6 days after its sign-in was first seen; a new sign-in resets."""
    secrets = MemoryStore()
    secrets.set("token:work", json.dumps({"refresh_token": "r-1", "client_id": "c", "client_secret": "s"}))
    s = make_settings(sink.json_url, 'quiet_hours = false\ngoogle_testing = ["work"]', google=True)
    w = World(tmp_path, s, secrets)
    try:
        w.cycle(at(0, 12))
        w.cycle(at(5, 12))
        assert sink.received == []
        w.cycle(at(6, 12, 30))
        w.cycle(at(6, 13))
        assert sink.titles() == ["idealweek: sign-in expiring"]
        assert "`idealweek auth google work`" in sink.received[0].message
        assert "r-1" not in json.dumps([r.body for r in sink.received])
        secrets.set("token:work", json.dumps({"refresh_token": "r-2", "client_id": "c", "client_secret": "s"}))
        w.cycle(at(7, 12))
        assert len(sink.received) == 1
    finally:
        w.close()


def test_daemon_failing_streak_alerts_once_after_the_threshold(tmp_path: Path, sink: AlertSink) -> None:
    """Failing cycles alert once the streak lasts daemon_failing_after; once per streak; a good cycle ends it."""
    s = make_settings(sink.json_url, 'quiet_hours = false\ndaemon_failing_after = "30m"')
    w = World(tmp_path, s)

    def open_store() -> Store:
        return Store(tmp_path / "state.sqlite3")

    try:
        t0 = at(0, 12)
        assert w.hook.cycle_failed(s, "work: read failed", t0, open_store) == []
        assert w.hook.cycle_failed(s, "work: read failed", t0 + timedelta(minutes=29), open_store) == []
        assert len(w.hook.cycle_failed(s, "work: read failed", t0 + timedelta(minutes=31), open_store)) == 1
        assert w.hook.cycle_failed(s, "work: read failed", t0 + timedelta(minutes=45), open_store) == []
        assert "work: read failed" in sink.received[0].message and "31 min" in sink.received[0].message
        w.cycle(at(0, 13))  # a good cycle ends the streak
        t1 = at(0, 14)
        w.hook.cycle_failed(s, "boom", t1, open_store)
        w.hook.cycle_failed(s, "boom", t1 + timedelta(minutes=30), open_store)
        assert sink.titles() == ["idealweek: sync is failing"] * 2
    finally:
        w.close()


def test_failed_delivery_is_retried_later_at_most_five_times(world: World, sink: AlertSink) -> None:
    """An endpoint answering 500: retried by cycles 5 minutes apart; delivered once it answers; never twice."""
    world.work.user_put(meeting(at(2, 15), 30, uid="clash"))
    sink.status = 500
    world.cycle(at(0, 12))
    world.cycle(at(0, 12, 2))  # too soon to retry
    sink.status = 200
    world.cycle(at(0, 12, 3))
    assert sink.received == []
    world.cycle(at(0, 12, 6))
    world.cycle(at(0, 12, 20))
    assert sink.titles() == ["idealweek: boundary violation"]
    assert world.store.alert_state("violation:family@15:00-15:30:2026-11-04", _channel(world.settings))[:2] == (
        "sent",
        2,
    )


def _channel(settings: Settings) -> str:
    from idealweek.alerts.channels import channels

    return channels(settings)[0].id


def test_secret_is_filled_in_by_name_and_never_stored_in_the_config(tmp_path: Path, sink: AlertSink) -> None:
    """ntfy://{secret:ntfy}@host/topic: the token from the secret store reaches the server as a bearer token."""
    url = f"ntfy://{{secret:ntfy}}@127.0.0.1:{sink.port}/idealweek"
    secrets = MemoryStore()
    secrets.set("alert:ntfy", "tk_live/123")
    w = World(tmp_path, make_settings(url, "quiet_hours = false"), secrets)
    try:
        w.work.user_put(meeting(at(2, 15), 30, uid="clash"))
        w.cycle(at(0, 12))
    finally:
        w.close()
    assert len(sink.received) == 1
    assert sink.received[0].headers["Authorization"] == "Bearer tk_live/123"
    assert sink.received[0].body["topic"] == "idealweek"


def test_missing_secret_sends_nothing_and_says_which(tmp_path: Path, sink: AlertSink) -> None:
    """A URL naming a secret that is not stored: no request, the alert stays due (failed), the cycle is fine."""
    url = f"ntfy://{{secret:nope}}@127.0.0.1:{sink.port}/idealweek"
    w = World(tmp_path, make_settings(url, "quiet_hours = false"))
    try:
        w.work.user_put(meeting(at(2, 15), 30, uid="clash"))
        assert w.cycle(at(0, 12)).ok
        assert sink.received == []
        assert [st for *_, st in w.store.alerts_sent()] == ["failed"]
    finally:
        w.close()


def test_dry_run_cycles_send_and_record_nothing(world: World, sink: AlertSink) -> None:
    """Looks (dry-run cycles) never send or record: the hook ignores them."""
    world.work.user_put(meeting(at(2, 15), 30, uid="clash"))
    report = world.engine.cycle(dry_run=True)
    world.hook.after_cycle(world.settings, world.store, report)
    assert sink.received == [] and world.store.alerts_sent() == [] and world.store.week_versions() == {}


def test_config_rejects_a_literal_brace_and_unknown_testing_account() -> None:
    """A URL with a stray brace, and a google_testing name that is no Google account, are config errors."""
    from idealweek.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        make_settings("ntfy://{token}@host/topic")
    assert "alerts.urls[0]: write a secret as {secret:NAME}" in str(err.value)
    with pytest.raises(ConfigError) as err:
        make_settings("ntfy://host/topic", 'google_testing = ["home"]')
    assert "alerts.google_testing[0]: unknown Google account 'home'" in str(err.value)


def test_two_processes_never_both_send_one_alert(tmp_path: Path, sink: AlertSink) -> None:
    """Two writers (own connections, own hooks) delivering the same alert at once: it is sent exactly once."""
    import threading

    from idealweek.alerts.hook import Delivery
    from idealweek.alerts.triggers import Alert, AlertKind

    s = make_settings(sink.json_url, "quiet_hours = false")
    sink.delay = 0.3
    alert = Alert("violation:x", AlertKind.VIOLATION, "idealweek: boundary violation", "body")
    Store(tmp_path / "state.sqlite3").close()
    sent: list[list[str]] = []

    def writer() -> None:
        store = Store(tmp_path / "state.sqlite3")
        try:
            sent.append(Delivery(s, tmp_path / "config.toml", MemoryStore()).deliver(store, [alert], at(0, 12)))
        finally:
            store.close()

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert sorted(len(x) for x in sent) == [0, 0, 0, 1]
    assert sink.titles() == ["idealweek: boundary violation"]
