"""Ownership keys: what the tag on an event idealweek owns says the event is.

Every owned event carries a key in its tag.  The text is what the calendars
store (and what provider ids are derived from); :class:`OwnedKey` is that text,
parsed once, with its parts typed:

* ``block:BLOCK-ID`` — a protected block of the ideal week;
* ``makeup:CATEGORY:STAMP`` — a make-up for missed time of a category;
* ``focus:STAMP`` — a focus block;
* ``mirror:<26 base32 characters>`` — a busy mirror; opaque (a keyed hash of its
  source key).  Older versions wrote ``mirror:SOURCE-KEY``: a *legacy* mirror key;
* ``personal:CALENDAR:INSTANCE`` — not written anywhere: the source key of a mirror
  of a personal event.

The engine may add a generation suffix (``#gN``) when a service refuses to reuse
the id of a deleted event; :attr:`OwnedKey.base` is the key without it.  Nothing
outside this module takes key strings apart.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from idealweek.model import Event

GEN_MARK = "#g"
"""Separates a key from the generation the engine adds when a service refuses to reuse a burnt id."""

REKEYED = "re-keyed: replaced by a mirror with the current opaque tag"
"""Reason of a mirror's delete that goes with a create of the same times (an old or lost mirror key)."""


class Kind(enum.StrEnum):
    """Kinds of events idealweek owns."""

    BLOCK = "block"
    MAKEUP = "makeup"
    FOCUS = "focus"
    MIRROR = "mirror"


_KINDS = {kind.value: kind for kind in Kind}

PERSONAL = "personal"
"""Prefix of a mirror's source key for a personal event (never a tag's key)."""


def stamp(t: datetime) -> str:
    """A key's time stamp (UTC, to the minute)."""
    return t.strftime("%Y%m%dT%H%MZ")


class OwnedKey(str):
    """An owned event's key: the text calendars store, parsed once into typed parts.

    It *is* the text (a ``str``), so ids, the state database and logs use it as they
    always did; the parts are read from its attributes, never by taking the text apart.
    Every non-empty text is a key (of no known kind if its prefix names none); empty text
    raises ``ValueError``, which makes the tag carrying it unreadable.
    """

    kind: Kind | None
    """The kind its prefix names; None for a mirror's personal source key or a key of no known kind."""
    category: str
    """The category a make-up repays ("" for other kinds)."""
    stamp: str
    """When a make-up or focus block was placed (its :func:`stamp`; "" for other kinds)."""
    generation: int
    """The engine's generation suffix (0: none)."""
    source: str
    """What the key names: a block's id, a legacy mirror's source key, a personal event's
    ``CALENDAR:INSTANCE``; "" for make-ups, focus blocks and opaque mirrors."""

    def __new__(cls, text: str) -> OwnedKey:
        if isinstance(text, OwnedKey):
            return text
        if not isinstance(text, str) or not text:
            raise ValueError("an owned key is a non-empty string")
        self = super().__new__(cls, text)
        base, mark, gen = text.rpartition(GEN_MARK)
        generation = 0
        if mark and base and gen.isascii() and gen.isdigit():
            generation = int(gen)
        else:
            base = text  # no (well-formed) generation: all of it is the key
        prefix, colon, body = base.partition(":")
        kind = _KINDS.get(prefix) if colon else None
        category = key_stamp = source = ""
        if kind is Kind.MAKEUP:
            category, _, key_stamp = body.partition(":")
        elif kind is Kind.FOCUS:
            key_stamp = body
        elif kind is Kind.BLOCK or (kind is Kind.MIRROR and ":" in body) or (colon and prefix == PERSONAL):
            source = body
        for name, value in (
            ("kind", kind),
            ("category", category),
            ("stamp", key_stamp),
            ("generation", generation),
            ("source", source),
        ):
            object.__setattr__(self, name, value)
        return self

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"OwnedKey is immutable ({name})")

    def __reduce__(self) -> tuple[type[OwnedKey], tuple[str]]:
        return (OwnedKey, (str(self),))

    # -- making keys --------------------------------------------------------------------
    @classmethod
    def block(cls, block_id: str) -> OwnedKey:
        return cls(f"{Kind.BLOCK}:{block_id}")

    @classmethod
    def makeup(cls, category: str, start: datetime) -> OwnedKey:
        return cls(f"{Kind.MAKEUP}:{category}:{stamp(start)}")

    @classmethod
    def focus(cls, start: datetime) -> OwnedKey:
        return cls(f"{Kind.FOCUS}:{stamp(start)}")

    @classmethod
    def personal(cls, calendar: str, instance_key: str) -> OwnedKey:
        return cls(f"{PERSONAL}:{calendar}:{instance_key}")

    @classmethod
    def mirror(cls, source_key: str, secret: bytes) -> OwnedKey:
        """An opaque key for the mirror of ``source_key``: a keyed hash, so the work calendar learns nothing.

        The source key names the personal calendar, the event's UID and the category; anyone with
        API access to the work calendar can read a mirror's tag, so it carries only
        ``mirror:`` + 26 base32 characters of HMAC-SHA256(secret, source key).  The secret stays in
        the state directory; with it the mapping is rebuilt from the personal calendars at any time.
        """
        digest = hmac.new(secret, source_key.encode("utf-8"), hashlib.sha256).digest()
        return cls(f"{Kind.MIRROR}:" + base64.b32encode(digest[:16]).decode("ascii").rstrip("=").lower())

    # -- reading keys -------------------------------------------------------------------
    @property
    def base(self) -> OwnedKey:
        """The planner's key: this one without the engine's generation suffix."""
        if not self.generation:
            return self
        return OwnedKey(self[: self.rindex(GEN_MARK)])

    def with_generation(self, generation: int) -> OwnedKey:
        """The key the engine writes for the ``generation``-th id of this event (0: the plain key)."""
        base = self.base
        return base if generation <= 0 else OwnedKey(f"{base}{GEN_MARK}{generation}")

    @property
    def is_legacy_mirror(self) -> bool:
        """A mirror key written by an older idealweek, which named its source (``mirror:block:…``)."""
        return self.kind is Kind.MIRROR and bool(self.source)


@dataclass(frozen=True, slots=True)
class OwnedTag:
    """The ownership tag idealweek writes on every event it creates.

    It carries enough to rebuild the owned-event map if the state database is
    lost: the block key, its kind, where idealweek put it (to recognise a move
    by the user) and, for make-up blocks, which debts it pays.
    """

    key: OwnedKey
    """A plain string is parsed into an :class:`OwnedKey` (``ValueError`` when it is not a key)."""
    kind: Kind
    planned_start: datetime
    planned_end: datetime
    category: str = ""
    pays: Mapping[str, int] = field(default_factory=dict)
    """debt id -> minutes this block pays."""

    def __post_init__(self) -> None:
        if not isinstance(self.key, OwnedKey):
            object.__setattr__(self, "key", OwnedKey(self.key))

    def encode(self) -> str:
        """Serialise compactly (fits Google's 1024-char property values for normal keys)."""
        doc: dict[str, object] = {
            "v": 1,
            "k": self.key,
            "t": self.kind.value,
            "s": int(self.planned_start.timestamp()),
            "e": int(self.planned_end.timestamp()),
        }
        if self.category:
            doc["c"] = self.category
        if self.pays:
            doc["p"] = dict(sorted(self.pays.items()))
        return json.dumps(doc, separators=(",", ":"), sort_keys=True)

    @classmethod
    def decode(cls, text: str) -> OwnedTag:
        """Parse a tag written by :meth:`encode`; raises ``ValueError`` (only) when it is not one.

        Tags come from calendars anyone can edit, so nothing is trusted: wrong types, huge or
        non-finite timestamps, deep nesting and the like all end up as ``ValueError``.
        """
        try:
            doc = json.loads(text)
            if not isinstance(doc, dict) or doc.get("v") != 1:
                raise ValueError("not an idealweek tag")
            key, kind, category = doc["k"], doc["t"], doc.get("c", "")
            if not isinstance(key, str) or not key or not isinstance(kind, str) or not isinstance(category, str):
                raise ValueError("bad key, kind or category")
            pays_raw = doc.get("p", {})
            if not isinstance(pays_raw, dict) or not all(_is_int(v) for v in pays_raw.values()):
                raise ValueError("bad pays")
            start, end = _timestamp(doc["s"]), _timestamp(doc["e"])
            if end < start:
                raise ValueError("ends before it starts")
            return cls(
                key=OwnedKey(key),
                kind=Kind(kind),
                planned_start=start,
                planned_end=end,
                category=category,
                pays={str(k): int(v) for k, v in pays_raw.items()},
            )
        except ValueError as exc:
            raise ValueError(f"not an idealweek tag: {exc}") from None
        except (KeyError, TypeError, OverflowError, OSError, RecursionError, MemoryError, UnicodeError) as exc:
            raise ValueError(f"not an idealweek tag: {type(exc).__name__}: {exc}") from None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _timestamp(value: object) -> datetime:
    """Epoch seconds as written by :meth:`OwnedTag.encode` (an int within datetime's range)."""
    if not _is_int(value):
        raise ValueError(f"timestamp is not an integer ({type(value).__name__})")
    assert isinstance(value, int)
    if not 0 <= value <= 32_503_680_000:  # 1970 .. 3000
        raise ValueError("timestamp out of range")
    return datetime.fromtimestamp(value, UTC)


def base_key(key: str) -> OwnedKey:
    """The planner's key of an owned event (without the engine's generation suffix)."""
    return OwnedKey(key).base


def is_moved_by_user(ev: Event) -> bool:
    """An owned event whose times differ from where idealweek put it, or that gained attendees.

    Either way the user adopted it: it stays as it is and counts where it is (SPEC §6.10).
    """
    return ev.tag is not None and (ev.start != ev.tag.planned_start or ev.end != ev.tag.planned_end or ev.has_guests)


__all__ = ["GEN_MARK", "PERSONAL", "REKEYED", "Kind", "OwnedKey", "OwnedTag", "base_key", "is_moved_by_user", "stamp"]
