"""Frozen value types shared by every layer.

Everything here is plain data: no I/O, no clock.  Datetimes are aware and
normalised to UTC where they enter the model (see :func:`as_utc`).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from idealweek.ownership import Kind as Kind
from idealweek.ownership import OwnedKey as OwnedKey
from idealweek.ownership import OwnedTag as OwnedTag

TAG_PROPERTY = "idealweek"
"""Name of the private property (Google) / extended property (Graph) / X- property (ICS) that marks owned events."""


def as_utc(value: datetime) -> datetime:
    """Return ``value`` in UTC; naive datetimes are refused."""
    if value.tzinfo is UTC:  # already UTC (most values: every reader converts): nothing to check or convert
        return value
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime not allowed: {value!r}")
    return value.astimezone(UTC)


class Role(enum.StrEnum):
    """What idealweek does with a calendar."""

    MEETINGS = "meetings"
    PERSONAL = "personal"
    BLOCKS = "blocks"
    FOCUS = "focus"
    MIRROR = "mirror"
    HOUSEHOLD = "household"
    """Another person's busy time (a partner, a child's school feed): never intrudes, never protected;
    make-ups of a ``together`` category go only where every household calendar is free."""


WRITE_ROLES = frozenset({Role.BLOCKS, Role.FOCUS, Role.MIRROR})
"""The roles for which idealweek writes to a calendar (a calendar with none of them is only read)."""


class Defend(enum.StrEnum):
    """How a protected block shows to others (issue 18)."""

    FREE = "free"
    """Written transparent: visible to you, invisible to schedulers."""
    BUSY = "busy"
    """An ordinary busy event."""
    DECLINE = "decline"
    """Google primary calendar: ``outOfOffice`` that declines new conflicting invitations; Outlook: ``showAs = oof``;
    elsewhere busy."""


class Policy(enum.StrEnum):
    """What an intrusion into a protected block means."""

    CATCH_UP = "catch-up"
    HARD = "hard"
    SOFT = "soft"


class Status(enum.StrEnum):
    """Status of an event as the calendar reports it."""

    CONFIRMED = "confirmed"
    TENTATIVE = "tentative"
    CANCELLED = "cancelled"


class Response(enum.StrEnum):
    """The user's own answer to an invitation."""

    NONE = "none"
    ORGANIZER = "organizer"
    ACCEPTED = "accepted"
    TENTATIVE = "tentative"
    NEEDS_ACTION = "needsAction"
    DECLINED = "declined"


class DebtStatus(enum.StrEnum):
    """Where a debt stands."""

    OPEN = "open"
    SCHEDULED = "scheduled"
    PAID = "paid"
    WAIVED = "waived"
    CANCELLED = "cancelled"
    OVERDUE = "overdue"


class Interval(NamedTuple):
    """A half-open time interval ``[start, end)`` in UTC.

    A named tuple: cheap to build in the planner's hot loops, immutable, and
    sorted by start then end.  Use :func:`interval` to build a checked one.
    """

    start: datetime
    end: datetime

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    @property
    def minutes(self) -> int:
        return int(self.duration.total_seconds() // 60)

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end

    def contains(self, other: Interval) -> bool:
        return self.start <= other.start and other.end <= self.end


def interval(start: datetime, end: datetime) -> Interval:
    """A checked interval: aware, UTC, not ending before it starts."""
    s, e = as_utc(start), as_utc(end)
    if e < s:
        raise ValueError(f"interval ends before it starts: {s} > {e}")
    return Interval(s, e)


@dataclass(frozen=True, slots=True)
class Event:
    """An event as read from any calendar, provider-neutral.

    ``uid`` is the provider's id of this instance (one per occurrence of a
    recurring event).  ``series`` and ``recurrence_id`` identify occurrences.
    """

    calendar: str
    uid: str
    start: datetime
    end: datetime
    title: str = ""
    description: str = ""
    location: str = ""
    all_day: bool = False
    status: Status = Status.CONFIRMED
    busy: bool = True
    response: Response = Response.NONE
    private: bool = False
    tag: OwnedTag | None = None
    etag: str = ""
    series: str = ""
    recurrence_id: str = ""
    attendees: int = 0
    organizer_other: bool = False
    """Someone other than the calendar's owner organises it (where the provider knows)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", as_utc(self.start))
        object.__setattr__(self, "end", as_utc(self.end))
        if self.end < self.start:
            object.__setattr__(self, "end", self.start)

    @property
    def interval(self) -> Interval:
        return Interval(self.start, self.end)

    @property
    def owned(self) -> bool:
        return self.tag is not None

    @property
    def has_guests(self) -> bool:
        """A meeting with other people: changing or deleting it may mail them, so it is the user's (SPEC §6.10)."""
        return self.attendees > 0 or self.organizer_other

    @property
    def instance_key(self) -> str:
        """Stable identity of this occurrence, independent of where it is now."""
        if self.series and self.recurrence_id:
            return f"{self.series}@{self.recurrence_id}"
        return self.uid


@dataclass(frozen=True, slots=True)
class DesiredEvent:
    """An owned event the plan wants to exist on a calendar."""

    calendar: str
    tag: OwnedTag
    start: datetime
    end: datetime
    title: str
    description: str = ""
    private: bool = True
    busy: bool = True
    focus_time: bool = False
    defend: Defend = Defend.BUSY
    """How the block shows to others: ``free`` writes it transparent (``busy`` is then False), ``decline``
    asks the provider for an out-of-office that declines new conflicting invitations where it can."""
    decline_message: str = ""
    """With ``defend = decline``: the message sent with the automatic decline (Google)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", as_utc(self.start))
        object.__setattr__(self, "end", as_utc(self.end))

    @property
    def key(self) -> OwnedKey:
        return self.tag.key

    @property
    def kind(self) -> Kind:
        return self.tag.kind


class OpKind(enum.StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


@dataclass(frozen=True, slots=True)
class Operation:
    """One write the reconciler asks for: create, update or delete an owned event."""

    kind: OpKind
    calendar: str
    key: OwnedKey
    desired: DesiredEvent | None = None
    existing: Event | None = None
    reason: str = ""

    def describe(self) -> str:
        ev = self.desired or self.existing
        when = ""
        if ev is not None:
            when = f"{ev.start:%Y-%m-%d %H:%M}–{ev.end:%H:%M} UTC"
        return f"{self.kind.value:6} {self.calendar}: {self.key} {when} {self.reason}".rstrip()


@dataclass(frozen=True, slots=True)
class Block:
    """A protected block: one occurrence of a ``[[protect]]`` rule or a personal event."""

    id: str
    category: str
    policy: Policy
    start: datetime
    end: datetime
    source: str = "rule"
    """``rule`` for the ideal week, else the calendar name of the personal event."""
    title: str = ""

    @property
    def interval(self) -> Interval:
        return Interval(self.start, self.end)


@dataclass(frozen=True, slots=True)
class Intrusion:
    """Meeting time inside a protected block."""

    block: Block
    start: datetime
    end: datetime
    minutes: int
    """Union of meeting minutes inside the block, rounded up to the granularity."""
    meetings: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Debt:
    """Minutes owed in one category, created by one intrusion."""

    id: str
    category: str
    minutes: int
    created: datetime
    """Start of the intrusion: the deadline counts from here."""
    earliest: datetime
    """A make-up may start no earlier than this (the end of the intrusion)."""
    deadline: datetime
    block_id: str = ""
    final: bool = False


@dataclass(frozen=True, slots=True)
class DebtState:
    """How a debt stands after planning."""

    debt: Debt
    paid: int
    scheduled: int
    """Minutes of the debt that live make-up blocks pay (their ``pays``)."""
    waived: int
    unplaced: int
    overdue: bool
    booked: int = 0
    """Actual minutes of the live make-up blocks paying it (``scheduled`` plus any ``surplus``)."""
    surplus: int = 0
    """Booked beyond what is owed, and why (``surplus_reason``)."""
    surplus_reason: str = ""
    """``min_block`` (rounded up to the shortest block), ``frozen`` (inside the freeze window, cannot
    shrink) or ``moved`` (the user moved or resized the block)."""
    reason: str = ""
    """Why an overdue debt found no time, when the planner knows (``no time when the household is free``)."""

    @property
    def status(self) -> DebtStatus:
        if self.unplaced > 0:
            return DebtStatus.OVERDUE if self.overdue else DebtStatus.OPEN
        if self.scheduled > 0:
            return DebtStatus.OVERDUE if self.overdue else DebtStatus.SCHEDULED
        if self.paid > 0:
            return DebtStatus.PAID
        if self.waived > 0:
            return DebtStatus.WAIVED
        return DebtStatus.PAID


@dataclass(frozen=True)
class DebtTotals:
    """Minutes of debt by where they stand; a debt past its deadline counts as overdue, booked or not."""

    open: int = 0
    overdue: int = 0
    scheduled: int = 0
    waived: int = 0
    paid: int = 0


def debt_totals(debts: Iterable[DebtState]) -> DebtTotals:
    """Sum the ledger: open (unplaced), overdue (unplaced or booked past the deadline), booked, waived, paid."""
    open_min = overdue = scheduled = waived = paid = 0
    for d in debts:
        waived += d.waived
        paid += d.paid
        if d.status == DebtStatus.OVERDUE:
            overdue += d.unplaced + d.scheduled
        else:
            open_min += d.unplaced
            scheduled += d.scheduled
    return DebtTotals(open_min, overdue, scheduled, waived, paid)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """Shorthand for a UTC datetime."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC)
