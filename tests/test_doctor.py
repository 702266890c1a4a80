"""`idealweek doctor`: one clear pass/fail line per check, non-zero exit on any failure."""

from __future__ import annotations

import io
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from idealweek import config as cfg
from idealweek import doctor
from idealweek.app import App
from idealweek.cli import main
from idealweek.secrets import FileStore, generate_key
from tests.test_daemon_support import demo_copy

ICS = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nEND:VCALENDAR\r\n"


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/school.ics"):
            self.send_response(200)
            self.send_header("Content-Type", "text/calendar")
            self.end_headers()
            self.wfile.write(ICS)
        else:
            self.send_error(404)

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_doctor(config: Path, **kw: object) -> tuple[int, list[str]]:
    ctx = App(config, cfg.load(config))
    out = io.StringIO()
    code = doctor.run(ctx, out=out, timeout=3, **kw)  # type: ignore[arg-type]
    return code, out.getvalue().splitlines()


def line(lines: list[str], name: str) -> str:
    return next(x for x in lines if x.split("  ", 1)[1].startswith(name + ":"))


def test_demo_setup_passes(tmp_path: Path) -> None:
    """On the demo calendars after one cycle every check passes or is skipped, and the exit code is 0."""
    config = demo_copy(tmp_path)
    assert main(["run", "--once", "--quiet", "--config", str(config), "--log-level", "error"]) == 0
    code, lines = run_doctor(config)
    assert code == 0, lines
    assert line(lines, "config").startswith("PASS")
    assert line(lines, "secret store").startswith("SKIP")
    assert line(lines, "calendar home (vdir)").startswith("PASS") and "read-write" in line(
        lines, "calendar home (vdir)"
    )
    assert line(lines, "state database").startswith("PASS") and "integrity ok" in line(lines, "state database")
    assert line(lines, "time zone").startswith("PASS")
    assert lines[-1] == "all checks passed"


def test_missing_calendar_file_fails(tmp_path: Path) -> None:
    """A missing ICS file fails its check and the exit code is 1."""
    config = demo_copy(tmp_path)
    (tmp_path / "calendars" / "family.ics").unlink()
    code, lines = run_doctor(config)
    assert code == 1
    assert line(lines, "calendar family (ics)").startswith("FAIL")
    assert lines[-1] == "1 check(s) failed"


def test_an_empty_meetings_calendar_is_a_warning(tmp_path: Path) -> None:
    """A meetings calendar without any event passes with WARN (a wrong path looks just like it); exit 0."""
    config = demo_copy(tmp_path)
    for f in (tmp_path / "calendars" / "work").glob("*.ics"):
        f.unlink()
    code, lines = run_doctor(config)
    assert code == 0, lines
    work = line(lines, "calendar work (vdir)")
    assert work.startswith("WARN") and "no events" in work
    assert line(lines, "calendar home (vdir)").startswith("PASS")  # not a meetings calendar


def test_corrupt_state_database_fails_and_is_left_alone(tmp_path: Path) -> None:
    """A damaged state database fails the check and the doctor does not move or change it."""
    config = demo_copy(tmp_path)
    db = tmp_path / "state" / "state.sqlite3"
    db.parent.mkdir()
    db.write_bytes(b"this is not a database" * 100)
    code, lines = run_doctor(config)
    assert code == 1 and line(lines, "state database").startswith("FAIL")
    assert db.read_bytes() == b"this is not a database" * 100


def outlook_config(tmp_path: Path, graph: str, authority: str, key_file: str = "") -> Path:
    config = demo_copy(tmp_path)
    text = config.read_text()
    text += (
        f'\n[secrets]\nstore = "file"\nkey_file = "{key_file}"\n'
        f'\n[accounts.office]\nprovider = "outlook"\nclient_id = "11111111-2222-3333-4444-555555555555"\n'
        f'graph_root = "{graph}"\nauthority = "{authority}"\n'
        '\n[calendars.office]\nsource = "outlook"\naccount = "office"\nroles = ["meetings"]\n'
    )
    text = text.replace('[secrets]\nstore = "file"\nkey_file = ""\n', "")
    config.write_text(text)
    return config


def test_accounts_sign_in_and_reachability(tmp_path: Path, http: str) -> None:
    """The secret store, the stored sign-in and each endpoint get their own line; an unreachable one fails."""
    key = tmp_path / "key"
    key.write_text(generate_key())
    config = outlook_config(tmp_path, f"{http}/v1.0", f"http://127.0.0.1:{closed_port()}", str(key))
    code, lines = run_doctor(config)
    assert code == 1
    assert line(lines, "secret store").startswith("PASS") and "encrypted file" in line(lines, "secret store")
    assert line(lines, "sign-in office (outlook)").startswith("FAIL")
    assert "idealweek auth outlook office" in line(lines, "sign-in office (outlook)")
    assert line(lines, "reach office Graph").startswith("PASS")
    assert line(lines, "reach office authority").startswith("FAIL")
    assert "unreachable" in line(lines, "reach office authority")
    FileStore(tmp_path / "state" / "secrets.enc", key.read_bytes(), "k").set("token:office", '{"cache": "x"}')
    config = outlook_config(tmp_path / "again", f"{http}/v1.0", f"{http}/", str(key))
    (tmp_path / "again" / "state").mkdir()
    (tmp_path / "again" / "state" / "secrets.enc").write_bytes((tmp_path / "state" / "secrets.enc").read_bytes())
    code, lines = run_doctor(config)
    assert code == 0, lines
    assert line(lines, "sign-in office (outlook)").startswith("PASS")


def test_wrong_key_fails_the_secret_store_check(tmp_path: Path, http: str) -> None:
    """A secret store that cannot be decrypted with the configured key is a clear failure."""
    key = tmp_path / "key"
    key.write_text(generate_key())
    FileStore(tmp_path / "state" / "secrets.enc", generate_key().encode(), "other").set("token:office", "v" * 20)
    config = outlook_config(tmp_path, f"{http}/v1.0", f"{http}/", str(key))
    code, lines = run_doctor(config)
    assert code == 1 and "cannot decrypt" in line(lines, "secret store")


def test_ics_url_and_clock_skew(tmp_path: Path, http: str) -> None:
    """An ICS URL is fetched (its query never shown), a 404 fails, and a skewed clock fails against a server."""
    config = demo_copy(tmp_path)
    text = config.read_text().replace('path = "calendars/family.ics"', f'url = "{http}/school.ics?token=s3cr3t"')
    config.write_text(text)
    code, lines = run_doctor(config)
    assert code == 0, lines
    assert line(lines, "calendar family (ics)").startswith("PASS") and "s3cr3t" not in "\n".join(lines)
    assert line(lines, "clock").startswith("PASS")
    skewed = lambda: datetime.now(UTC) + timedelta(minutes=10)  # noqa: E731
    code, lines = run_doctor(config, clock=skewed)
    assert code == 1 and line(lines, "clock").startswith("FAIL") and "NTP" in line(lines, "clock")
    config.write_text(text.replace("/school.ics", "/gone.ics"))
    code, lines = run_doctor(config)
    assert code == 1 and "HTTP 404" in line(lines, "calendar family (ics)")


def test_a_config_that_does_nothing_is_a_warning(tmp_path: Path) -> None:
    """A valid config without calendars or anything to protect passes with WARN lines saying what is missing."""
    config = tmp_path / "config.toml"
    config.write_text(f'state_dir = "{tmp_path / "state"}"\n')
    code, lines = run_doctor(config)
    assert code == 0, lines
    warned = [x for x in lines if x.startswith("WARN  config:")]
    assert any("no calendars" in x for x in warned) and any("nothing to protect" in x for x in warned), lines


def test_a_meetings_feed_without_events_is_a_warning(tmp_path: Path, http: str) -> None:
    """A meetings calendar on a service (here an ICS feed) that held no events at its last read passes with WARN."""
    config = demo_copy(tmp_path)
    config.write_text(
        config.read_text() + f'\n[calendars.feed]\nsource = "ics"\nurl = "{http}/school.ics"\nroles = ["meetings"]\n'
    )
    code, lines = run_doctor(config)
    assert not [x for x in lines if x.startswith("WARN  calendar feed")], "warned before the feed was ever read"
    assert main(["run", "--once", "--quiet", "--config", str(config), "--log-level", "error"]) == 0
    code, lines = run_doctor(config)
    assert code == 0, lines
    feed = [x for x in lines if x.startswith("WARN  calendar feed (ics):")]
    assert feed and "no events" in feed[0], lines
