"""The provider contract on the in-memory provider."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import pytest

from idealweek.model import Event
from idealweek.providers.memory import MemoryCalendar, MemoryProvider
from tests.contract import ProviderContract


class MemoryHarness:
    remembers_deleted_ids = True
    checks_etags = True

    def __init__(self) -> None:
        self.cal = MemoryCalendar()
        self.provider = MemoryProvider("mem", self.cal)
        self._n = 0

    def user_add(self, title: str, start: datetime, end: datetime) -> str:
        self._n += 1
        uid = f"user{self._n}"
        self.cal.user_put(Event(calendar="mem", uid=uid, start=start, end=end, title=title))
        return uid

    def user_delete(self, uid: str) -> None:
        self.cal.user_delete(uid)

    def user_retitle(self, uid: str, title: str) -> None:
        self.cal.user_put(dataclasses.replace(self.cal.events[uid], title=title))


class TestMemoryContract(ProviderContract):
    @pytest.fixture
    def harness(self) -> MemoryHarness:
        return MemoryHarness()
