"""The provider contract on the CalDAV provider, against real Radicale and Xandikos servers on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from idealweek.model import utc
from idealweek.providers.caldav import CalDavProvider, ClientOptions, DavSession, RetryPolicy
from tests.contract import ProviderContract
from tests.fakes.dav_servers import KINDS, DavServer, DavUser, running

WINDOW = (utc(2030, 1, 1), utc(2031, 1, 1))


@pytest.fixture(scope="module", params=KINDS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DavServer]:
    with running(request.param, tmp_path_factory.mktemp(request.param)) as s:
        yield s


def provider_for(server: DavServer, path: str, name: str = "dav", **kwargs: object) -> CalDavProvider:
    options = ClientOptions(
        url=server.url,
        username=server.username,
        password=server.password,
        retry=RetryPolicy(sleep=lambda s: None),
        account="home",
    )
    return CalDavProvider(
        name,
        DavSession(options),
        path,
        zone=ZoneInfo("Europe/Berlin"),
        window=WINDOW,
        **kwargs,  # type: ignore[arg-type]
    )


class CalDavHarness:
    remembers_deleted_ids = False
    checks_etags = True

    def __init__(self, server: DavServer) -> None:
        self.server = server
        self.path = server.new_calendar("contract")
        self.user = server.user()
        self.provider = provider_for(server, self.path)

    def user_add(self, title: str, start: datetime, end: datetime) -> str:
        return self.user.add(self.path, title, start, end)

    def user_delete(self, uid: str) -> None:
        self.user.delete(self.path, uid)

    def user_retitle(self, uid: str, title: str) -> None:
        self.user.retitle(self.path, uid, title)

    def close(self) -> None:
        self.provider.close()
        self.user.close()


class TestCalDavContract(ProviderContract):
    @pytest.fixture
    def harness(self, server: DavServer) -> Iterator[CalDavHarness]:
        h = CalDavHarness(server)
        yield h
        h.close()


__all__ = ["DavUser", "Path", "provider_for"]
