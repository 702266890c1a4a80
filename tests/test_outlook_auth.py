"""Outlook sign-in with the real MSAL against a local TLS authority: device code, refresh, revocation."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from idealweek.config import OutlookAccount, Settings, loads
from idealweek.errors import AuthError
from idealweek.model import utc
from idealweek.providers import outlook
from idealweek.providers.outlook.auth import scopes_for
from idealweek.secrets import MemoryStore
from tests.fakes.graph_server import FakeGraph
from tests.fakes.tls_authority import DEVICE_GRANT, FakeAuthority

NOW = utc(2030, 3, 4, 8)


@dataclass
class World:
    graph: FakeGraph
    authority: FakeAuthority
    settings: Settings
    config_path: Path
    secrets: MemoryStore
    messages: list[str]


def settings_for(graph: FakeGraph, authority: FakeAuthority, ca: str, shared: bool = False) -> Settings:
    side = f'id = "{graph.add_calendar("Shared")}"\nshared = true' if shared else 'id = "primary"'
    return loads(
        f"""
timezone = "Europe/Berlin"
[accounts.work]
provider = "outlook"
client_id = "11111111-2222-3333-4444-555555555555"
tenant = "organizations"
authority = "{authority.origin}"
graph_root = "{graph.root}"
ca_bundle = "{ca}"
page_size = 50

[calendars.office]
source = "outlook"
account = "work"
roles = ["meetings", "mirror", "focus"]
{side}
"""
    )


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with FakeGraph(tokens=set()) as graph:
        authority = FakeAuthority(tmp_path, on_token=graph.tokens.add)
        with authority:
            config_path = tmp_path / "config.toml"
            settings = settings_for(graph, authority, authority.ca_path.name)
            yield World(graph, authority, settings, config_path, MemoryStore(), [])


def approve_from(world: World) -> Callable[[str], None]:
    def prompt(message: str) -> None:
        world.messages.append(message)
        m = re.search(r"enter the code (\S+)", message)
        if m:
            world.authority.approve(m.group(1))

    return prompt


def sign_in(world: World) -> None:
    outlook.sign_in(world.settings, world.config_path, "work", world.secrets, prompt=approve_from(world))


def test_device_code_sign_in_end_to_end(world: World) -> None:
    """The real MSAL device flow: message with URL and code, pending polls, then the cache is stored."""
    sign_in(world)
    assert f"{world.authority.origin}/devicelogin" in world.messages[0]
    assert "Signed in" in world.messages[-1] and "ada@example.test" in world.messages[-1]
    assert world.authority.grants(DEVICE_GRANT) == 2  # one authorization_pending, then success
    stored = world.secrets.get("token:work")
    assert stored and "RefreshToken" in stored


def test_sign_in_asks_least_scopes(world: World) -> None:
    """Only Calendars.ReadWrite is requested when no shared calendar is configured."""
    sign_in(world)
    asked = world.authority.state.scopes_asked[-1].split()
    assert "Calendars.ReadWrite" in asked and "Calendars.ReadWrite.Shared" not in asked


def test_shared_calendar_adds_the_shared_scope(world: World) -> None:
    """A calendar with shared = true adds Calendars.ReadWrite.Shared, nothing else."""
    world.settings = settings_for(world.graph, world.authority, world.authority.ca_path.name, shared=True)
    sign_in(world)
    asked = world.authority.state.scopes_asked[-1].split()
    assert {"Calendars.ReadWrite", "Calendars.ReadWrite.Shared"} <= set(asked)


def test_provider_uses_the_signed_in_token(world: World) -> None:
    """After sign-in, the provider reads Graph with the authority's access token, silently."""
    sign_in(world)
    world.graph.user_add("m", utc(2030, 3, 4, 9), utc(2030, 3, 4, 10))
    p = outlook.make_provider(world.settings, world.config_path, "office", world.secrets, clock=lambda: NOW)
    assert len(p.read_changes(None).upserts) == 1
    assert world.authority.grants("refresh_token") == 0
    p.close()


def test_expired_access_token_is_refreshed_silently_and_cache_written_back(world: World) -> None:
    """An access token near expiry is refreshed with the refresh token; the new cache goes to the store."""
    world.authority.expires_in = 60  # MSAL refreshes tokens with less than 5 minutes left
    sign_in(world)
    before = world.secrets.get("token:work")
    p = outlook.make_provider(world.settings, world.config_path, "office", world.secrets, clock=lambda: NOW)
    p.read_changes(None)
    assert world.authority.grants("refresh_token") >= 1
    after = world.secrets.get("token:work")
    assert after and after != before
    p.close()


def test_revoked_refresh_token_is_a_clear_auth_error(world: World) -> None:
    """A revoked or expired refresh token (invalid_grant) says to run `idealweek auth outlook ACCOUNT`."""
    world.authority.expires_in = 60
    sign_in(world)
    world.authority.revoke_all()
    p = outlook.make_provider(world.settings, world.config_path, "office", world.secrets, clock=lambda: NOW)
    with pytest.raises(AuthError, match=r"idealweek auth outlook work") as info:
        p.read_changes(None)
    assert "revoked or has expired" in str(info.value)
    assert "rt-" not in str(info.value) and "at-" not in str(info.value)
    assert world.graph.count() == 0


def test_without_sign_in_the_provider_says_what_to_run(world: World) -> None:
    """No cached sign-in → AuthError naming the command; Graph is not called."""
    p = outlook.make_provider(world.settings, world.config_path, "office", world.secrets, clock=lambda: NOW)
    with pytest.raises(AuthError, match=r"idealweek auth outlook work"):
        p.read_changes(None)
    assert world.graph.count() == 0


def test_tls_is_verified(world: World, tmp_path: Path) -> None:
    """Without the test CA, MSAL refuses the authority's certificate: TLS verification is never off."""
    world.settings = settings_for(world.graph, world.authority, "")
    with pytest.raises(AuthError, match="cannot reach the Microsoft authority"):
        sign_in(world)


def test_list_calendars_with_the_signed_in_token(world: World) -> None:
    """`idealweek calendars ACCOUNT` lists the mailbox's calendars with ids and the default one."""
    sign_in(world)
    side = world.graph.add_calendar("Family", can_edit=False)
    cals = outlook.list_calendars(world.settings, world.config_path, "work", world.secrets)
    assert [c.name for c in cals] == ["Calendar", "Family"]
    assert cals[0].primary and cals[0].access == "write"
    assert cals[1].id == side and cals[1].access == "read" and not cals[1].primary


def test_national_cloud_scopes_are_qualified() -> None:
    """US Government and China Graph hosts get scopes qualified with their resource."""
    gov = OutlookAccount(
        provider="outlook",
        client_id="x",
        authority="https://login.microsoftonline.us",
        graph_root="https://graph.microsoft.us/v1.0",
    )
    china = OutlookAccount(provider="outlook", client_id="x", graph_root="https://microsoftgraph.chinacloudapi.cn/v1.0")
    world_wide = OutlookAccount(provider="outlook", client_id="x")
    assert scopes_for(gov, False) == ["https://graph.microsoft.us/Calendars.ReadWrite"]
    assert scopes_for(china, True)[1] == "https://microsoftgraph.chinacloudapi.cn/Calendars.ReadWrite.Shared"
    assert scopes_for(world_wide, False) == ["Calendars.ReadWrite"]
