"""The CalDAV docs: the example config loads and the README shows the four services."""

from __future__ import annotations

from pathlib import Path

from idealweek.config import CalDavAccount, loads

ROOT = Path(__file__).resolve().parent.parent


def test_caldav_example_config_loads_with_the_four_services() -> None:
    """docs/caldav.example.toml loads: iCloud, Fastmail, Nextcloud and Radicale accounts with calendars."""
    settings = loads((ROOT / "docs" / "caldav.example.toml").read_text("utf-8"), "docs/caldav.example.toml")
    urls = {a.url for a in settings.accounts.values() if isinstance(a, CalDavAccount)}
    assert urls == {
        "https://caldav.icloud.com/",
        "https://caldav.fastmail.com/dav/",
        "https://cloud.example.org/remote.php/dav/",
        "http://127.0.0.1:5232/",
    }
    assert {c.account for c in settings.calendars.values() if c.source == "caldav"} == set(settings.accounts)


def test_readme_shows_the_four_caldav_services() -> None:
    """The README's CalDAV section names iCloud (app-specific password), Fastmail, Nextcloud and Radicale."""
    text = (ROOT / "README.md").read_text("utf-8")
    section = text.split("### CalDAV", 1)[1].split("\n### ", 1)[0]
    needles = ("iCloud", "https://caldav.icloud.com/", "app-specific password", "Fastmail", "Nextcloud", "Radicale")
    for needle in needles:
        assert needle in section, needle
