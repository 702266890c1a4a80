"""The configuration's models: frozen settings validated by pydantic, with cross-key checks."""

from __future__ import annotations

import difflib
from collections.abc import Collection
from datetime import time, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import Field, WithJsonSchema, model_validator

from idealweek.config.accounts import Account
from idealweek.config.alerts import Alerts
from idealweek.config.base import _Model
from idealweek.config.calendars import CalendarConfig
from idealweek.config.types import Clock, Days, Duration, Zone, format_duration, system_zone
from idealweek.model import Defend, Policy, Role

EndClock = Annotated[
    Clock,
    WithJsonSchema({"type": "string", "pattern": r"^\+?\d{1,2}:\d{2}$", "examples": ["18:00", "+07:00"]}),
]
"""A window's end: ``"+07:00"`` is 07:00 on the next day."""


class Window(_Model):
    """Weekdays plus a local start and end time.

    A window that runs past midnight says so: ``end = "+07:00"`` (or ``overnight = true``); an ``end``
    before ``start`` without it is a config error, so a typo cannot make a 22-hour block.
    """

    days: Days
    """Weekdays: "mon-fri", "sat,sun", "mon" or a list like ["tue", "thu"]; ranges may wrap ("fri-mon")."""
    start: Clock
    """Local start time, like "17:00"."""
    end: EndClock
    """Local end time; "24:00" is the end of the day, "+07:00" is 07:00 the next day."""
    overnight: bool = False
    """The window ends on the next day at ``end`` (written ``end = "+07:00"``)."""

    @model_validator(mode="before")
    @classmethod
    def _next_day_end(cls, data: object) -> object:
        if isinstance(data, dict) and isinstance(data.get("end"), str) and data["end"].strip().startswith("+"):
            if data.get("overnight") is False:
                raise ValueError(f"end {data['end']!r} says overnight but overnight = false")
            return {**data, "end": data["end"].strip()[1:], "overnight": True}
        return data

    @model_validator(mode="after")
    def _check(self) -> Window:
        start, end = _hhmm(self.start), _hhmm(self.end)
        if self.overnight:
            if self.end == time.max or self.end > self.start:
                raise ValueError(
                    f"overnight: end {end} is not before start {start}; an overnight window ends the next day "
                    "before it started"
                )
        elif self.start == self.end:
            raise ValueError("start and end are equal: the window would be empty")
        elif self.end < self.start and self.end == time(0):
            raise ValueError(f'end 00:00 is before start {start}: write end = "24:00" for midnight')
        elif self.end < self.start:
            raise ValueError(
                f"end {end} is before start {start}: a window that runs past midnight must say so, "
                f'write end = "+{end}" (or overnight = true)'
            )
        return self


def _hhmm(t: time) -> str:
    return "24:00" if t == time.max else t.strftime("%H:%M")


class Category(_Model):
    """A kind of personal time (family, health, …) and where its make-up blocks may go.

    ``within``, ``min_block``, ``prefer`` and ``max_per_day`` override ``[catch_up]`` for this category.
    """

    title: str = ""
    """Title used in event titles (default: the category's name, capitalised)."""
    windows: tuple[Window, ...] = ()
    """Allowed make-up windows; without any, debt of this category cannot be placed and is reported."""
    within: Duration | None = None
    """This category's make-ups must end within this long after the intrusion (default: [catch_up])."""
    min_block: Duration | None = None
    """Shortest make-up block of this category (default: [catch_up])."""
    prefer: Literal["earliest", "latest"] | None = None
    """Place this category's make-ups in the "earliest" or "latest" fitting slot (default: [catch_up])."""
    max_per_day: Duration | None = None
    """No more than this much make-up of the category on one local day."""
    together: bool = False
    """Make-ups of this category go only where you and every ``household`` calendar are free; with no such time
    before the deadline the debt is overdue ("no time when the household is free")."""

    @model_validator(mode="after")
    def _check(self) -> Category:
        _check_catch_up(self.within, self.min_block, self.max_per_day)
        return self


class CatchUpRule(_Model):
    """The catch-up rule in force for one category (its own settings, else ``[catch_up]``)."""

    within: Duration
    min_block: Duration
    prefer: Literal["earliest", "latest"]
    max_per_day: Duration | None


def _check_catch_up(within: timedelta | None, min_block: timedelta | None, max_per_day: timedelta | None) -> None:
    if min_block is not None and min_block <= timedelta(0):
        raise ValueError("min_block must be positive")
    if within is not None and within <= timedelta(0):
        raise ValueError("within must be positive")
    if max_per_day is not None and not timedelta(0) < max_per_day <= timedelta(days=1):
        raise ValueError("max_per_day must be between 1m and 1d")


class ProtectRule(Window):
    """One ``[[protect]]`` rule of the ideal week."""

    category: str
    """The category of personal time this block protects (a key of [categories])."""
    policy: Policy = Policy.CATCH_UP
    """What an intrusion means: "catch-up" (owed and made up), "hard" (a boundary violation), "soft" (counted)."""
    title: str = ""
    """Event title of the block (default: the category's title)."""
    name: str = ""
    """Stable identity of the rule (default: category@start-end); keep it when you edit the times."""
    defend: Defend | None = None
    """How the block shows to others: "free" (transparent: invisible to schedulers), "busy", or "decline" (Google
    primary calendar: out of office, declining new conflicting invitations; Outlook: shown as away; elsewhere busy).
    Default: "decline" for hard blocks, else "busy"."""
    decline_message: str = "This time is protected; please suggest another time."
    """With defend = "decline": the message Google sends with the automatic decline."""

    def defend_mode(self) -> Defend:
        """``defend``, or its default: ``decline`` for ``hard`` blocks, ``busy`` otherwise."""
        if self.defend is not None:
            return self.defend
        return Defend.DECLINE if self.policy == Policy.HARD else Defend.BUSY

    def rule_id(self) -> str:
        if self.name:
            return self.name
        end = "24:00" if self.end == time.max else self.end.strftime("%H:%M")
        return f"{self.category}@{self.start:%H:%M}-{end}"


class CatchUp(_Model):
    within: Duration = timedelta(days=7)
    """A make-up must end within this long after the intrusion started."""
    min_block: Duration = timedelta(minutes=30)
    """Shortest make-up block; small debts of one category are merged up to this."""
    granularity: Duration = timedelta(minutes=15)
    """Lost minutes are rounded up to this; blocks start on this grid (local time)."""
    freeze: Duration = timedelta(hours=2)
    """Blocks starting within this long from now are never moved."""
    prefer: Literal["earliest", "latest"] = "earliest"
    """Place make-ups in the "earliest" or "latest" fitting slot before the deadline."""
    max_per_day: Duration | None = None
    """No more than this much make-up of one category on one local day (default: no limit)."""
    count_tentative: bool = True
    """Tentative and not-yet-answered invitations count as meetings."""
    count_all_day: bool = False
    """All-day events count as meetings (and all-day personal events as protected)."""
    title_prefix: str = "Make-up: "
    """Title of make-up blocks: this prefix plus the category's title."""

    @model_validator(mode="after")
    def _check(self) -> CatchUp:
        g = self.granularity.total_seconds()
        if g < 60 or g > 86400 or (g % 60):
            raise ValueError("granularity must be whole minutes between 1m and 1d")
        _check_catch_up(self.within, self.min_block, self.max_per_day)
        return self


class Focus(_Model):
    weekly_target: Duration = timedelta(0)
    """Focus time to place per week ("0m" turns focus blocks off)."""
    chunk: Duration = timedelta(hours=2)
    """Preferred length of one focus block."""
    min_chunk: Duration = timedelta(hours=1)
    """Shortest focus block worth placing."""
    title: str = "Focus"
    """Title of focus blocks."""
    hours: tuple[Window, ...] = (Window(days=frozenset(range(5)), start=time(9), end=time(17)),)
    """Working hours in which focus blocks may go (one or more windows)."""
    focus_time: bool = False
    """On a Google primary calendar of a Workspace user, write focus blocks as eventType focusTime."""

    @model_validator(mode="after")
    def _check(self) -> Focus:
        if self.min_chunk <= timedelta(0) or self.chunk <= timedelta(0):
            raise ValueError("chunk and min_chunk must be positive")
        if self.min_chunk > self.chunk:
            raise ValueError("min_chunk must not be longer than chunk")
        return self


class Mirror(_Model):
    title: str = "Busy"
    """The title of every mirror event (nothing of the personal event is ever copied)."""
    blocks: bool = True
    """Mirror protected blocks of the ideal week."""
    makeups: bool = True
    """Mirror make-up blocks."""
    personal: bool = True
    """Mirror events of personal calendars."""


class Safety(_Model):
    max_delete_share: float = Field(default=0.5, ge=0.0, le=1.0)
    """A cycle that would delete more than this share of owned events stops (use --force)."""
    min_owned_for_share: int = Field(default=5, ge=0)
    """The share rule applies once at least this many owned events exist."""
    lock_wait: Duration = timedelta(seconds=60)
    """How long a cycle waits for another idealweek's cycle on the same state directory before giving up."""


class Secrets(_Model):
    store: Literal["auto", "keyring", "file"] = "auto"
    """"keyring" (OS keyring), "file" (encrypted file in state_dir, for servers), or "auto" (keyring when usable,
    else the file store when a key is available)."""
    key_file: str = ""
    """Key of the file store (else the systemd credential); relative to the config file's folder."""
    credential: str = "idealweek-key"
    """Name of the systemd credential holding the key ($CREDENTIALS_DIRECTORY)."""


class Log(_Model):
    level: Literal["debug", "info", "warning", "error"] = "info"
    """debug, info, warning or error (event titles are logged only at debug)."""
    format: Literal["auto", "console", "json"] = "auto"
    """auto (console on a terminal, JSON lines otherwise), console or json."""


class Settings(_Model):
    """The whole configuration file."""

    timezone: Zone = Field(default_factory=system_zone)
    """IANA time zone of your ideal week (default: the system's zone)."""
    horizon: Duration = timedelta(days=14)
    """How far ahead idealweek plans and writes blocks (1d..366d)."""
    sync_interval: Duration = timedelta(seconds=60)
    """Time between sync cycles of `idealweek run`."""
    state_dir: str = ""
    """Where the state database lives (default: $STATE_DIRECTORY, else $XDG_STATE_HOME/idealweek); relative to the
    config file's folder."""
    catch_up: CatchUp = CatchUp()
    """The catch-up rule: time a meeting takes from a catch-up block is owed and booked back."""
    focus: Focus = Focus()
    """Focus blocks placed in free working time until the weekly target is met."""
    mirror: Mirror = Mirror()
    """Personal time mirrored onto mirror calendars as private busy events."""
    safety: Safety = Safety()
    """Guards against mass deletion."""
    secrets: Secrets = Secrets()
    """Where sign-in tokens are kept."""
    log: Log = Log()
    """Logging."""
    alerts: Alerts = Alerts()
    """Alerts and the weekly digest."""
    experiment: str = ""
    """Name of this version of the ideal week (``review --compare`` groups weeks by version)."""
    categories: dict[str, Category] = Field(default_factory=dict)
    """Categories of personal time, with the windows where their make-up blocks may go."""
    protect: tuple[ProtectRule, ...] = ()
    """The ideal week: protected blocks."""
    accounts: dict[str, Account] = Field(default_factory=dict)
    """Google, Outlook and CalDAV accounts, by name."""
    calendars: dict[str, CalendarConfig] = Field(default_factory=dict)
    """The calendars idealweek reads and writes, by name, each with a source and roles."""

    @model_validator(mode="after")
    def _check(self) -> Settings:
        problems: list[str] = []
        if self.horizon < timedelta(days=1) or self.horizon > timedelta(days=366):
            problems.append("horizon: must be between 1d and 366d")
        if self.sync_interval < timedelta(seconds=1):
            problems.append("sync_interval: must be at least 1s")
        for name in self.categories:
            cu = self.catch_up_for(name)
            if cu.max_per_day is not None and cu.max_per_day < cu.min_block:
                problems.append(
                    f"categories.{name}.max_per_day: {format_duration(cu.max_per_day)} is shorter than "
                    f"min_block {format_duration(cu.min_block)}: no make-up block could ever be placed"
                )
        for i, rule in enumerate(self.protect):
            if rule.category not in self.categories:
                problems.append(_unknown(f"protect[{i}].category", rule.category, self.categories, "category"))
        seen: dict[str, int] = {}
        for i, rule in enumerate(self.protect):
            rid = rule.rule_id()
            if rid in seen:
                problems.append(
                    f"protect[{i}]: same identity {rid!r} as protect[{seen[rid]}]; give one of them a distinct name"
                )
            seen[rid] = i
        for name, cal in self.calendars.items():
            if cal.account and cal.account not in self.accounts:
                problems.append(_unknown(f"calendars.{name}.account", cal.account, self.accounts, "account"))
            elif cal.account:
                acct = self.accounts[cal.account]
                if acct.provider != cal.source:
                    problems.append(
                        f"calendars.{name}.account: account {cal.account!r} is a {acct.provider} account "
                        f"but the calendar's source is {cal.source!r}"
                    )
            if cal.category and cal.category not in self.categories:
                problems.append(_unknown(f"calendars.{name}.category", cal.category, self.categories, "category"))
        for i, testing in enumerate(self.alerts.google_testing):
            if testing not in self.accounts or self.accounts[testing].provider != "google":
                problems.append(_unknown(f"alerts.google_testing[{i}]", testing, self.accounts, "Google account"))
        if problems:
            raise ValueError("\n".join(problems))
        return self

    # -- convenience -------------------------------------------------------
    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def calendars_with(self, role: Role) -> list[str]:
        return sorted(name for name, cal in self.calendars.items() if role in cal.roles)

    def catch_up_for(self, category: str) -> CatchUpRule:
        """The catch-up rule of ``category``: its own settings, else ``[catch_up]``."""
        cu = self.catch_up
        cat = self.categories.get(category)
        if cat is None:
            return CatchUpRule(within=cu.within, min_block=cu.min_block, prefer=cu.prefer, max_per_day=cu.max_per_day)
        return CatchUpRule(
            within=cat.within or cu.within,
            min_block=cat.min_block or cu.min_block,
            prefer=cat.prefer or cu.prefer,
            max_per_day=cat.max_per_day or cu.max_per_day,
        )

    @property
    def longest_within(self) -> timedelta:
        """The longest ``within`` of any category: how far back a debt can still be paid."""
        return max([self.catch_up.within, *(c.within for c in self.categories.values() if c.within)])

    def category_title(self, category: str) -> str:
        cat = self.categories.get(category)
        return cat.title if cat and cat.title else category.replace("_", " ").capitalize()


def _unknown(key: str, value: str, known: Collection[str], what: str) -> str:
    hint = difflib.get_close_matches(value, list(known), n=1)
    extra = f" (did you mean {hint[0]!r}?)" if hint else ""
    names = ", ".join(sorted(known)) or "none defined"
    return f"{key}: unknown {what} {value!r}{extra}; known: {names}"
