"""``[calendars.NAME]``: where a calendar lives (source) and what idealweek does with it (roles)."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from idealweek.config.accounts import secure_urls
from idealweek.config.base import _Model
from idealweek.model import WRITE_ROLES, Policy, Role


class CalendarConfig(_Model):
    source: Literal["vdir", "ics", "google", "outlook", "caldav"]
    """"google", "outlook", "caldav", "vdir" (a folder of .ics files, read-write) or "ics" (a file or URL,
    read-only)."""
    roles: tuple[Role, ...]
    """What idealweek does with the calendar: meetings, personal, blocks, focus, mirror, household."""
    account: str = ""
    """For google, outlook and caldav: the account (a key of [accounts])."""
    id: str = ""
    """Calendar id on the service (``primary`` for Google's main calendar)."""
    path: str = ""
    """For vdir and ics files: the folder or file; relative paths are relative to the config file's folder."""
    url: str = ""
    """For ics feeds: the https:// address."""
    category: str = ""
    """For ``personal`` calendars: the category its events protect."""
    policy: Policy = Policy.HARD
    """For ``personal`` calendars: what an intrusion into one of its events means."""
    shared: bool = False
    """Outlook: a calendar shared with you by another mailbox (asks for Calendars.ReadWrite.Shared)."""
    create: bool = False
    """For ``vdir``: create the folder when it does not exist.  Without it a missing folder is an error, so a
    mistyped path cannot start a new, empty calendar (or silently mean "no meetings")."""
    max_size_mb: int = 20
    """For ``ics`` feeds: the largest answer accepted, in MB after decompression (a feed that grows past it
    fails with a clear error; each fetch also ends after 60 s and follows redirects to https only)."""
    free_busy: bool = False
    """For ``household`` calendars of google, outlook or caldav: read only free/busy (Google freeBusy.query, Graph
    getSchedule, CalDAV free-busy REPORT), for a person who shares no details.  ``id`` is their calendar id or
    e-mail address (Google, Outlook) or the calendar's URL path (CalDAV)."""

    @model_validator(mode="after")
    def _check(self) -> CalendarConfig:
        if not self.roles:
            raise ValueError("roles must name at least one of meetings, personal, blocks, focus, mirror, household")
        if Role.HOUSEHOLD in self.roles and len(set(self.roles)) > 1:
            raise ValueError(
                "role household stands alone: a household calendar is only another person's busy time "
                "(it never intrudes, is never protected and is never written)"
            )
        if self.free_busy:
            if self.source not in ("google", "outlook", "caldav"):
                raise ValueError("free_busy applies to google, outlook and caldav calendars only")
            if Role.HOUSEHOLD not in self.roles:
                raise ValueError('free_busy needs roles = ["household"]: free/busy is only ever household busy time')
            if self.source in ("google", "outlook") and not self.id:
                raise ValueError("a free_busy calendar needs id: the person's calendar id or e-mail address")
        if self.source == "vdir" and not self.path:
            raise ValueError("a vdir calendar needs path")
        if self.create and self.source != "vdir":
            raise ValueError("create applies to vdir calendars only")
        if not 1 <= self.max_size_mb <= 1024:
            raise ValueError("max_size_mb must be between 1 and 1024")
        if self.source == "ics":
            if bool(self.path) == bool(self.url):
                raise ValueError("an ics calendar needs exactly one of path or url")
            if self.url:
                secure_urls(url=self.url.replace("webcal://", "https://", 1))
            written = WRITE_ROLES & set(self.roles)
            if written:
                raise ValueError(
                    f"an ics calendar is read-only and cannot have roles {sorted(r.value for r in written)}"
                )
        if self.source in ("google", "outlook", "caldav") and not self.account:
            raise ValueError(f"a {self.source} calendar needs account")
        if self.source == "caldav" and not self.id:
            raise ValueError("a caldav calendar needs id: its URL path (e.g. /jane/family/) or its display name")
        if Role.PERSONAL in self.roles and self.policy == Policy.CATCH_UP and not self.category:
            raise ValueError("a personal calendar with policy catch-up needs category")
        return self
