"""One redaction for every output channel: logs, doctor, the systemd STATUS= line and the command's messages."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from idealweek import config as cfg
from idealweek import doctor, log
from idealweek.app import App
from idealweek.daemon import Service
from idealweek.errors import ProviderError
from idealweek.log import redact_text, redact_url, register_secret
from idealweek.providers.ics import redact_url as ics_redact_url
from tests.test_daemon import Recorder
from tests.test_daemon_support import demo_copy

FEED = "https://jane:hunter2@calendar.example.com/calendar/ical/jane.doe%40example.com/private-5f3e9a7c1b/basic.ics?token=abc123"
SECRET_PARTS = ("hunter2", "private-5f3e9a7c1b", "abc123", "jane.doe@example.com", "jane.doe%40example.com")
TOKEN = "ya29.a0AfH6SMBsecretACCESStokenVALUE"


@pytest.fixture(autouse=True)
def _reset_logging() -> Iterator[None]:
    yield
    structlog.reset_defaults()


def test_one_url_redactor_for_logs_messages_and_the_ics_provider() -> None:
    """The ICS provider and every other channel cut a feed URL the same way: origin and a short last segment."""
    shown = redact_url(FEED)
    assert shown == ics_redact_url(FEED) == "https://calendar.example.com/…/basic.ics"
    text = redact_text(f"cannot fetch {FEED}: timeout")
    assert text == "cannot fetch https://calendar.example.com/…/basic.ics: timeout"
    assert not any(p in text for p in SECRET_PARTS)


def test_calendar_ids_that_are_e_mail_addresses_are_masked() -> None:
    """E-mail addresses (Google calendar ids, mailboxes) keep their first letter and domain only."""
    text = redact_text("calendar 'jane.doe@example.com' and group id family0123@group.calendar.google.com failed")
    assert "jane.doe@" not in text and "family0123@" not in text
    assert "j…@example.com" in text and "f…@group.calendar.google.com" in text


def test_log_lines_are_redacted_the_same_way() -> None:
    """A warning carrying a feed URL, a calendar id and a registered token shows none of them."""
    out = io.StringIO()
    log.setup("info", "json", stream=out)
    register_secret(TOKEN)
    structlog.get_logger("t").warning(
        "calendar.read_failed", calendar="work", error=f"{FEED} for jane.doe@example.com with {TOKEN}"
    )
    text = out.getvalue()
    assert "calendar.read_failed" in text
    assert not any(p in text for p in (*SECRET_PARTS, TOKEN))


def test_doctor_never_prints_a_feed_secret(tmp_path: Path) -> None:
    """doctor shows an unreachable private ICS feed by origin and file name only (no secret path or query)."""
    config = demo_copy(tmp_path)
    secret_url = "https://127.0.0.1:9/calendar/ical/jane.doe%40example.com/private-5f3e9a7c1b/basic.ics?token=abc123"
    text = config.read_text().replace('path = "calendars/family.ics"', f'url = "{secret_url}"')
    config.write_text(text)
    out = io.StringIO()
    doctor.run(App(config, cfg.load(config)), out=out, timeout=2)
    lines = out.getvalue()
    assert "calendar family (ics)" in lines and "basic.ics" in lines
    assert not any(p in lines for p in SECRET_PARTS), lines


def test_status_line_for_systemctl_is_redacted(tmp_path: Path) -> None:
    """The STATUS= line (readable by every local user) carries no token, feed URL or e-mail address."""
    svc = Service(App(demo_copy(tmp_path), cfg.load(demo_copy(tmp_path / "x"))), notifier=Recorder())
    svc._last_error = f"work: read failed: {FEED} as jane.doe@example.com, Authorization: Bearer {TOKEN}"
    status = svc.status_text()
    assert "last error: work: read failed" in status
    assert not any(p in status for p in (*SECRET_PARTS, TOKEN)), status


def test_command_error_messages_are_redacted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An error the command prints (`idealweek: …`) goes through the same redaction."""
    from idealweek import cli

    config = demo_copy(tmp_path)

    def boom(*args: object, **kwargs: object) -> int:
        raise ProviderError(f"calendar 'jane.doe@example.com' at {FEED} refused the token {TOKEN}")

    register_secret(TOKEN)
    monkeypatch.setitem(cli.COMMANDS, "status", boom)
    assert cli.main(["status", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("idealweek: calendar 'j…@example.com'")
    assert not any(p in err for p in (*SECRET_PARTS, TOKEN)), err
