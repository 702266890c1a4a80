"""Google sign-in (real loopback flow against the fake OAuth endpoints), token refresh, invalid_grant, calendars."""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
import uuid
import webbrowser
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import structlog

from idealweek.config import Settings
from idealweek.errors import AuthError, ProviderError, UserError
from idealweek.model import utc
from idealweek.providers.google import SCOPES, export_token, import_token, list_calendars, make_provider, sign_in
from idealweek.secrets import MemoryStore
from tests.fakes.google_server import GoogleFake, google_provider, google_settings, signed_in

T0 = utc(2030, 3, 4, 9)


@pytest.fixture
def fake() -> Iterator[GoogleFake]:
    with GoogleFake(page_size=2) as f:
        yield f


class RobotBrowser(webbrowser.BaseBrowser):
    """A 'browser' that visits the sign-in page like a user who clicks Allow."""

    def __init__(self) -> None:
        super().__init__(f"idealweek-robot-{uuid.uuid4().hex}")
        self.visits: list[requests.Response] = []
        self.urls: list[str] = []
        self.threads: list[threading.Thread] = []

    def open(self, url: str, new: int = 0, autoraise: bool = True) -> bool:
        self.urls.append(url)
        thread = threading.Thread(target=lambda: self.visits.append(requests.get(url, timeout=20)), daemon=True)
        thread.start()
        self.threads.append(thread)
        return True


def client_file(tmp_path: Path, fake: GoogleFake, kind: str = "installed") -> Settings:
    path = tmp_path / "client_secret.json"
    doc = fake.client_secrets()
    path.write_text(json.dumps({kind: doc["installed"]}))
    return Settings.model_validate(
        {"accounts": {"me": {"provider": "google", "client_secrets": "client_secret.json", "api_root": fake.api_root}}}
    )


def test_sign_in_runs_the_loopback_flow_and_stores_the_token(fake: GoogleFake, tmp_path: Path) -> None:
    """auth google opens the browser, receives the code on the loopback address, and stores a working token."""
    settings = client_file(tmp_path, fake)
    robot = RobotBrowser()
    webbrowser.register(robot.name, None, robot)
    store = MemoryStore()
    sign_in(settings, tmp_path / "config.toml", "me", store, browser=robot.name, timeout=20)
    for t in robot.threads:
        t.join(10)
    (url,) = robot.urls
    query = parse_qs(urlsplit(url).query)
    assert set(query["scope"][0].split()) == set(SCOPES)
    assert query["access_type"] == ["offline"] and query["code_challenge_method"] == ["S256"]
    assert query["redirect_uri"][0].startswith("http://localhost:")
    assert robot.visits[0].status_code == 200 and "signed in" in robot.visits[0].text
    token = json.loads(store.get("token:me") or "{}")
    assert token["refresh_token"] and token["token"]
    assert "OAUTHLIB_INSECURE_TRANSPORT" not in os.environ
    cals = list_calendars(settings, tmp_path / "config.toml", "me", store)
    assert [c.id for c in cals] == ["user@example.com"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_sign_in_without_browser_prints_the_address(
    fake: GoogleFake, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without a browser the address is printed; --port fixes the loopback port (for an SSH forward)."""
    settings = client_file(tmp_path, fake)
    store = MemoryStore()
    port = free_port()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            sign_in(settings, tmp_path / "config.toml", "me", store, port=port, open_browser=False, timeout=20)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    url = ""
    deadline = time.monotonic() + 10
    while not url and time.monotonic() < deadline:
        found = re.search(r"(http://127\.0\.0\.1:\d+/o/oauth2/auth\?\S+)", capsys.readouterr().out)
        url = found.group(1) if found else ""
        time.sleep(0.02)
    assert url, "the sign-in address was not printed"
    assert parse_qs(urlsplit(url).query)["redirect_uri"] == [f"http://localhost:{port}/"]
    assert requests.get(url, timeout=10).status_code == 200
    thread.join(10)
    assert errors == [] and store.get("token:me")


def test_refused_consent_is_a_clear_error(fake: GoogleFake, tmp_path: Path) -> None:
    """If the user refuses access, sign-in fails with a message and stores nothing."""
    settings = client_file(tmp_path, fake)
    fake.deny_consent = True
    robot = RobotBrowser()
    webbrowser.register(robot.name, None, robot)
    store = MemoryStore()
    with pytest.raises(UserError, match="refused"):
        sign_in(settings, tmp_path / "config.toml", "me", store, browser=robot.name, timeout=20)
    assert store.get("token:me") is None


def test_web_client_file_is_refused(fake: GoogleFake, tmp_path: Path) -> None:
    """A client file that is not a Desktop app client is refused with an explanation."""
    settings = client_file(tmp_path, fake, kind="web")
    with pytest.raises(UserError, match="Desktop app"):
        sign_in(settings, tmp_path / "config.toml", "me", MemoryStore(), open_browser=False)


def test_missing_client_file_is_explained(fake: GoogleFake, tmp_path: Path) -> None:
    """An account without client_secrets says how to create one."""
    settings = Settings.model_validate({"accounts": {"me": {"provider": "google"}}})
    with pytest.raises(UserError, match="Desktop app"):
        sign_in(settings, tmp_path / "config.toml", "me", MemoryStore(), open_browser=False)
    with pytest.raises(UserError, match="no such account"):
        sign_in(settings, tmp_path / "config.toml", "nobody", MemoryStore(), open_browser=False)


def test_expired_access_token_is_refreshed_and_written_back(fake: GoogleFake) -> None:
    """A 401 for an expired access token refreshes it once; the new token is stored for the next run."""
    store = signed_in(fake)
    old = json.loads(store.get("token:work") or "{}")["token"]
    p = google_provider(fake, store=store)
    try:
        fake.user_add("primary", "A", T0, utc(2030, 3, 4, 10))
        fake.expire_access_tokens()
        assert [e.title for e in p.read_changes(None).upserts] == ["A"]
        new = json.loads(store.get("token:work") or "{}")["token"]
        assert new != old and fake.refreshes == 1
        assert p.requests.by_kind.get("token") == 1
    finally:
        p.close()
    again = google_provider(fake, store=store)
    try:
        again.read_changes(None)
        assert fake.refreshes == 1
    finally:
        again.close()


def test_token_past_its_expiry_is_refreshed_before_use(fake: GoogleFake) -> None:
    """A stored token whose expiry has passed is refreshed before the request, without a 401."""
    store = MemoryStore()
    store.set("token:work", fake.issue_token(lifetime=-60))
    p = google_provider(fake, store=store)
    try:
        p.read_changes(None)
        assert fake.refreshes == 1
        assert all(r.status != 401 for r in fake.log)
    finally:
        p.close()


def test_revoked_sign_in_says_how_to_renew(fake: GoogleFake) -> None:
    """invalid_grant on refresh raises AuthError naming the command and the 7-day Testing-status limit."""
    store = signed_in(fake)
    p = google_provider(fake, store=store)
    try:
        fake.revoke_refresh_tokens()
        with pytest.raises(AuthError) as info:
            p.read_changes(None)
    finally:
        p.close()
    message = str(info.value)
    assert "idealweek auth google work" in message and "7 days" in message and "Testing" in message


def test_missing_or_damaged_sign_in_is_an_auth_error(fake: GoogleFake) -> None:
    """No stored token, or an unreadable one, raises AuthError that says what to run."""
    settings = google_settings(fake)
    with pytest.raises(AuthError, match="idealweek auth google work"):
        make_provider(settings, Path("c.toml"), "work", MemoryStore())
    store = MemoryStore()
    store.set("token:work", "{not json")
    with pytest.raises(AuthError, match="damaged"):
        make_provider(settings, Path("c.toml"), "work", store)


def test_tokens_never_reach_the_logs(fake: GoogleFake) -> None:
    """Neither access nor refresh tokens appear in log events, also around a refresh and retries."""
    store = signed_in(fake)
    with structlog.testing.capture_logs() as logs:
        p = google_provider(fake, store=store)
        try:
            fake.expire_access_tokens()
            fake.fail(503)
            p.read_changes(None)
        finally:
            p.close()
    secrets_seen = set(fake.access_tokens) | set(fake.refresh_tokens)
    text = json.dumps(logs, default=str)
    assert logs and not any(s in text for s in secrets_seen)


def test_list_calendars_pages_through_the_calendar_list(fake: GoogleFake) -> None:
    """calendars lists every calendar with id, name and access role, primary first."""
    fake.add_calendar("fam@group.calendar.google.com", "Family", access_role="writer")
    fake.add_calendar("hol@group.v.calendar.google.com", "Holidays", access_role="reader")
    store = signed_in(fake)
    cals = list_calendars(google_settings(fake), Path("c.toml"), "work", store)
    assert [(c.id, c.name, c.access, c.primary) for c in cals] == [
        ("user@example.com", "user@example.com", "owner", True),
        ("fam@group.calendar.google.com", "Family", "writer", False),
        ("hol@group.v.calendar.google.com", "Holidays", "reader", False),
    ]
    assert len(fake.requests_to("GET", "/calendarList")) == 2


def test_calendar_list_needs_its_scope(fake: GoogleFake) -> None:
    """With only the events scope, listing calendars fails clearly (insufficient scopes)."""
    store = MemoryStore()
    store.set("token:work", fake.issue_token(scopes=("https://www.googleapis.com/auth/calendar.events",)))
    with pytest.raises(ProviderError, match="403"):
        list_calendars(google_settings(fake), Path("c.toml"), "work", store)


def test_export_and_import_move_a_sign_in(fake: GoogleFake) -> None:
    """A sign-in exported on one machine and imported on another works there."""
    laptop = signed_in(fake)
    server = MemoryStore()
    import_token(server, "work", export_token(laptop, "work"))
    p = google_provider(fake, store=server)
    try:
        p.read_changes(None)
    finally:
        p.close()
    with pytest.raises(UserError):
        import_token(server, "work", '{"token": "x"}')
    with pytest.raises(UserError):
        export_token(MemoryStore(), "work")
