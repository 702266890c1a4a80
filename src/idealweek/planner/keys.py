"""The keys the planner makes and reads, through :class:`~idealweek.ownership.OwnedKey`.

Owned events carry a key (``block:…``, ``makeup:CATEGORY:STAMP``, ``focus:STAMP``,
``mirror:…``), debts an id (``debt:BLOCK-ID``).  Keys are built and read by
:mod:`idealweek.ownership`; this module gives the planner's phases their words for it
and makes the block and debt ids.
"""

from __future__ import annotations

from datetime import datetime

from idealweek.ownership import GEN_MARK, REKEYED, Kind, OwnedKey, base_key, is_moved_by_user, stamp


def makeup_key(category: str, start: datetime) -> OwnedKey:
    return OwnedKey.makeup(category, start)


def makeup_category(key: str) -> str | None:
    """The category of a make-up key, or None for any other key."""
    owned = OwnedKey(key)
    return owned.category if owned.kind is Kind.MAKEUP else None


def focus_key(start: datetime) -> OwnedKey:
    return OwnedKey.focus(start)


def is_focus_key(key: str) -> bool:
    return OwnedKey(key).kind is Kind.FOCUS


def block_key(block_id: str) -> OwnedKey:
    return OwnedKey.block(block_id)


def personal_key(calendar: str, instance_key: str) -> OwnedKey:
    return OwnedKey.personal(calendar, instance_key)


def mirror_key(source_key: str, secret: bytes) -> OwnedKey:
    """An opaque key for the mirror of ``source_key`` (see :meth:`OwnedKey.mirror`)."""
    return OwnedKey.mirror(source_key, secret)


def is_legacy_mirror_key(key: str) -> bool:
    """A mirror key written by an older idealweek, which named its source (``mirror:block:…``)."""
    return OwnedKey(key).is_legacy_mirror


def personal_block_id(calendar: str, instance_key: str) -> str:
    return f"{calendar}:{instance_key}"


def makeup_block_id(key: str) -> str:
    """The id of the protected block a pinned make-up becomes (a meeting on it is new debt)."""
    return f"makeup:{base_key(key)}"


DEBT = "debt:"


def debt_id(block_id: str) -> str:
    return f"{DEBT}{block_id}"


def debt_block_id(debt: str) -> str:
    """The block a debt id names (what a make-up's links show)."""
    return debt.removeprefix(DEBT)


__all__ = [
    "GEN_MARK",
    "REKEYED",
    "base_key",
    "block_key",
    "debt_block_id",
    "debt_id",
    "focus_key",
    "is_focus_key",
    "is_legacy_mirror_key",
    "is_moved_by_user",
    "makeup_block_id",
    "makeup_category",
    "makeup_key",
    "mirror_key",
    "personal_block_id",
    "personal_key",
    "stamp",
]
