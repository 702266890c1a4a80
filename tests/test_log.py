"""Logging: redaction of secrets everywhere, titles only at debug, JSON or console, libraries included."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import structlog

from idealweek import config as cfg
from idealweek import log
from idealweek.engine import Engine
from idealweek.providers.factory import make_provider
from idealweek.secrets import FileStore, generate_key
from idealweek.store import Store
from tests.fakes.graph_server import FakeGraph, Fault, provider_for
from tests.test_daemon_support import demo_copy

ACCESS = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJncmFwaCIsInNlY3JldCI6MX0.c2lnbmF0dXJlU0VDUkVU"
REFRESH = "0.AXYAsecret-refresh-token-Zq8bX3"
CLIENT_SECRET = "Qk8Q~client-secret-value-0042"
PASSWORD = "p4ssw0rd-of-the-user-!"
SECRETS = (ACCESS, REFRESH, CLIENT_SECRET, PASSWORD)
PRIVATE_TITLE = "Divorce lawyer consultation"


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    buf = io.StringIO()
    yield buf
    structlog.reset_defaults()
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_idealweek", False):
            root.removeHandler(h)
    root.setLevel(logging.WARNING)


def render(level: str, **fields: Any) -> dict[str, Any]:
    """Run the redaction processor on one event."""
    return dict(log.redact(None, level, {"event": "x", **fields}))


def test_secret_keys_are_redacted_at_any_depth() -> None:
    """Fields named like tokens, secrets, passwords or authorization are redacted, however deep."""
    out = render(
        "info",
        access_token=ACCESS,
        request={"headers": {"Authorization": f"Bearer {ACCESS}"}, "body": {"client_secret": CLIENT_SECRET}},
        attempts=[{"refresh_token": REFRESH}, ("password", {"password": PASSWORD})],
    )
    text = json.dumps(out)
    assert not any(s in text for s in SECRETS)
    assert out["access_token"] == log.REDACTED


def test_secret_values_are_redacted_inside_text() -> None:
    """Bearer headers, query strings, JSON token documents and exception texts lose their secrets."""
    out = render(
        "info",
        error=f"401 for GET /me/calendar?access_token={ACCESS}&x=1 with Authorization: Bearer {ACCESS}",
        doc=json.dumps({"refresh_token": REFRESH, "client_secret": CLIENT_SECRET}),
        exc=RuntimeError(f"token endpoint said no: password={PASSWORD}"),
        google="ya29.a0AfH6SMBsecret and 1//0gLongRefreshTokenValue GOCSPX-abcdefSecret",
    )
    text = json.dumps(out)
    assert not any(s in text for s in SECRETS)
    assert "ya29." not in text and "1//0g" not in text and "GOCSPX-abc" not in text
    assert "x=1" in text  # the harmless rest of the line stays


def test_registered_secrets_are_removed_everywhere() -> None:
    """A secret document read from the store registers its values: they vanish from any field or event text."""
    doc = {"refresh_token": "opaque-refresh-77", "token_uri": "https://oauth2.example/token", "note": "publicly"}
    log.register_secret_document(json.dumps({"cache": [doc]}))
    out = render("warning", event="refresh failed for opaque-refresh-77", detail=["x opaque-refresh-77 y"])
    assert "opaque-refresh-77" not in json.dumps(out)
    assert "publicly" not in log._registered and "https://oauth2.example/token" not in log._registered


def test_titles_only_at_debug() -> None:
    """Titles, descriptions and locations are dropped above debug, nested too, and kept at debug."""
    info = render("info", title=PRIVATE_TITLE, event_data={"subject": PRIVATE_TITLE, "id": "e1"})
    assert PRIVATE_TITLE not in json.dumps(info) and info["event_data"] == {"id": "e1"}
    debug = render("debug", title=PRIVATE_TITLE)
    assert debug["title"] == PRIVATE_TITLE


def test_json_lines_when_not_a_terminal(output: io.StringIO) -> None:
    """Format auto writes one JSON object per line on a non-terminal, with level and timestamp."""
    log.setup("info", "auto", stream=output)
    structlog.get_logger("t").info("cycle", writes=2, authorization="Basic dXNlcjpwYXNz")
    line = json.loads(output.getvalue().strip())
    assert line["event"] == "cycle" and line["level"] == "info" and line["writes"] == 2
    assert line["authorization"] == log.REDACTED and "timestamp" in line


def test_console_format_is_human_readable(output: io.StringIO) -> None:
    """Format console writes a readable line with the event name and fields, not JSON."""
    log.setup("info", "console", stream=output)
    structlog.get_logger("t").info("cycle", writes=2)
    text = output.getvalue()
    assert "cycle" in text and "writes=2" in text and not text.lstrip().startswith("{")


def test_library_logs_go_through_the_same_redaction(output: io.StringIO) -> None:
    """A standard-library log line (urllib3, msal…) is rendered by the same chain and loses its secrets."""
    log.setup("debug", "json", stream=output)
    logging.getLogger("urllib3.connectionpool").debug("header Authorization: Bearer %s", ACCESS)
    logging.getLogger("apscheduler.executors.default").info("Running job sync (noise)")
    text = output.getvalue()
    assert ACCESS not in text and "urllib3.connectionpool" in text
    assert "Running job" not in text  # apscheduler kept at WARNING: one summary line per cycle is ours


def _settings_with_outlook(tmp_path: Path) -> tuple[Path, cfg.Settings]:
    extra = (
        '\n[accounts.office]\nprovider = "outlook"\nclient_id = "11111111-2222-3333-4444-555555555555"\n'
        '\n[calendars.office]\nsource = "outlook"\naccount = "office"\nroles = ["meetings"]\n'
    )
    path = demo_copy(tmp_path)
    path.write_text(path.read_text() + extra)
    return path, cfg.load(path)


def test_full_cycles_with_debug_logging_leak_no_secret(tmp_path: Path, output: io.StringIO) -> None:
    """Three cycles against local calendars and the fake Graph, at debug level, with faults: no secret in output."""
    log.setup("debug", "json", stream=output)
    config, settings = _settings_with_outlook(tmp_path)
    secrets = FileStore(tmp_path / "state" / "secrets.enc", generate_key().encode(), "test")
    secrets.set("token:office", json.dumps({"refresh_token": REFRESH, "client_secret": CLIENT_SECRET}))
    assert secrets.get("token:office")
    zone = ZoneInfo("Europe/Berlin")
    with FakeGraph(tokens={ACCESS}) as fake:
        day = (datetime.now(zone) + timedelta(days=3)).replace(hour=17, minute=0, second=0, microsecond=0)
        while day.weekday() >= 5:
            day += timedelta(days=1)
        fake.user_add(PRIVATE_TITLE, day, day + timedelta(hours=1))
        providers: dict[str, Any] = {
            name: make_provider(settings, config, name, None) for name in ("work", "home", "family")
        }
        providers["office"] = provider_for(fake, name="office", token=ACCESS)
        store = Store(tmp_path / "state" / "state.sqlite3")
        try:
            engine = Engine(settings, store, providers, config_path=config)
            first = engine.cycle()
            assert first.ok and first.plan is not None and first.plan.intrusions
            fake.inject(Fault(status=401, code="InvalidAuthenticationToken", times=50))
            second = engine.cycle()
            assert "office" in second.failed
            fake.faults.clear()
            third = engine.cycle()
            assert third.ok
            structlog.get_logger("test").debug(
                "request", headers={"Authorization": f"Bearer {ACCESS}"}, doc=secrets.get("token:office")
            )
            structlog.get_logger("test").error("refresh failed", error=f"invalid_grant for {REFRESH}")
        finally:
            store.close()
    text = output.getvalue()
    assert text.count("\n") > 10  # the cycles did log at debug
    for secret in SECRETS:
        assert secret not in text
    for line in text.splitlines():
        record = json.loads(line)
        if PRIVATE_TITLE in line:
            assert record["level"] == "debug", line


def test_titles_absent_from_info_level_cycle_output(tmp_path: Path, output: io.StringIO) -> None:
    """At info level a full cycle logs no event title at all."""
    log.setup("info", "json", stream=output)
    config = demo_copy(tmp_path)
    settings = cfg.load(config)
    providers = {name: make_provider(settings, config, name, None) for name in settings.calendars}
    store = Store(tmp_path / "state.sqlite3")
    try:
        report = Engine(settings, store, providers, config_path=config).cycle()
    finally:
        store.close()
    assert report.ok
    text = output.getvalue()
    assert text and "Sprint planning" not in text and "Board prep" not in text
