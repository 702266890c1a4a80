"""Every string key the planner makes or reads back, in one place.

Owned events carry a key (``block:…``, ``makeup:CATEGORY:STAMP``, ``focus:STAMP``,
``mirror:…``), debts an id (``debt:BLOCK-ID``), and the engine may add a generation
suffix (``#gN``) when a service refuses to reuse a burnt id.  Nothing else in the
planner builds or parses these strings.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime

from idealweek.model import Event

GEN_MARK = "#g"
"""Suffix the engine adds to a key when the service refuses to reuse a burnt id."""

MAKEUP = "makeup:"
FOCUS = "focus:"


def base_key(key: str) -> str:
    """The planner's key of an owned event (without the engine's generation suffix)."""
    return key.split(GEN_MARK, 1)[0]


def is_moved_by_user(ev: Event) -> bool:
    """An owned event whose times differ from where idealweek put it, or that gained attendees.

    Either way the user adopted it: it stays as it is and counts where it is (SPEC §6.10).
    """
    return ev.tag is not None and (ev.start != ev.tag.planned_start or ev.end != ev.tag.planned_end or ev.has_guests)


def stamp(t: datetime) -> str:
    return t.strftime("%Y%m%dT%H%MZ")


def makeup_key(category: str, start: datetime) -> str:
    return f"{MAKEUP}{category}:{stamp(start)}"


def makeup_category(key: str) -> str | None:
    """The category of a make-up key, or None for any other key."""
    if not key.startswith(MAKEUP):
        return None
    return key.split(":")[1]


def focus_key(start: datetime) -> str:
    return f"{FOCUS}{stamp(start)}"


def is_focus_key(key: str) -> bool:
    return key.startswith(FOCUS)


def block_key(block_id: str) -> str:
    return f"block:{block_id}"


def personal_key(calendar: str, instance_key: str) -> str:
    return f"personal:{calendar}:{instance_key}"


MIRROR = "mirror:"
REKEYED = "re-keyed: replaced by a mirror with the current opaque tag"
"""Reason of a mirror's delete that goes with a create of the same times (an old or lost mirror key)."""


def mirror_key(source_key: str, secret: bytes) -> str:
    """An opaque key for the mirror of ``source_key``: a keyed hash, so the work calendar learns nothing.

    The source key names the personal calendar, the event's UID and the category; anyone with
    API access to the work calendar can read a mirror's tag, so it carries only
    ``mirror:`` + 26 base32 characters of HMAC-SHA256(secret, source key).  The secret stays in
    the state directory; with it the mapping is rebuilt from the personal calendars at any time.
    """
    digest = hmac.new(secret, source_key.encode("utf-8"), hashlib.sha256).digest()
    return MIRROR + base64.b32encode(digest[:16]).decode("ascii").rstrip("=").lower()


def is_legacy_mirror_key(key: str) -> bool:
    """A mirror key written by an older idealweek, which named its source (``mirror:block:…``)."""
    return key.startswith(MIRROR) and ":" in base_key(key)[len(MIRROR) :]


def personal_block_id(calendar: str, instance_key: str) -> str:
    return f"{calendar}:{instance_key}"


def makeup_block_id(key: str) -> str:
    """The id of the protected block a pinned make-up becomes (a meeting on it is new debt)."""
    return f"makeup:{base_key(key)}"


def debt_id(block_id: str) -> str:
    return f"debt:{block_id}"
