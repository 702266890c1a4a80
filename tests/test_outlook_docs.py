"""The Outlook documentation's example configuration is valid."""

from __future__ import annotations

from pathlib import Path

from idealweek.config import OutlookAccount, loads

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_example_config_validates() -> None:
    """docs/outlook.example.toml loads: one Outlook account, a default and a shared calendar."""
    settings = loads((DOCS / "outlook.example.toml").read_text("utf-8"), "docs/outlook.example.toml")
    acct = settings.accounts["office"]
    assert isinstance(acct, OutlookAccount) and acct.ca_bundle == ""
    assert settings.calendars["work"].id == "" and settings.calendars["team"].shared


def test_quick_start_names_the_essentials() -> None:
    """docs/outlook.md covers public client flows, the command, least scopes and national clouds."""
    text = (DOCS / "outlook.md").read_text("utf-8")
    for needle in (
        "Allow public client flows",
        "idealweek auth outlook",
        "Calendars.ReadWrite",
        "https://login.microsoftonline.us",
        "https://graph.microsoft.us/v1.0",
        "https://login.chinacloudapi.cn",
        "https://microsoftgraph.chinacloudapi.cn/v1.0",
    ):
        assert needle in text
