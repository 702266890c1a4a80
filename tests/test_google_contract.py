"""The provider contract on the Google provider, against the fake Google server over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from idealweek.providers.google import GoogleProvider, RetryPolicy, make_provider
from tests.contract import ProviderContract
from tests.fakes.google_server import GoogleFake, google_settings, signed_in


class GoogleHarness:
    remembers_deleted_ids = True
    checks_etags = True

    def __init__(self, fake: GoogleFake) -> None:
        self.fake = fake
        settings = google_settings(fake)
        retry = RetryPolicy(sleep=lambda _s: None)
        store = signed_in(fake)
        self.provider: GoogleProvider = make_provider(settings, Path("config.toml"), "work", store, retry=retry)

    def user_add(self, title: str, start: datetime, end: datetime) -> str:
        return self.fake.user_add("primary", title, start, end)

    def user_delete(self, uid: str) -> None:
        self.fake.user_delete("primary", uid)

    def user_retitle(self, uid: str, title: str) -> None:
        self.fake.user_retitle("primary", uid, title)


class TestGoogleContract(ProviderContract):
    @pytest.fixture
    def harness(self) -> Iterator[GoogleHarness]:
        with GoogleFake(page_size=3, empty_pages=True) as fake:
            harness = GoogleHarness(fake)
            yield harness
            harness.provider.close()
            assert fake.mails == 0
