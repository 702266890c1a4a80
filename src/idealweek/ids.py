"""The production id scheme: stable ids derived from an owned event's key."""

from __future__ import annotations

import hashlib


def stable_id(key: str, prefix: str = "iw") -> str:
    """A stable id derived from an owned event's key (lower-case base32hex alphabet)."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()[:20]
    alphabet = "0123456789abcdefghijklmnopqrstuv"
    n = int.from_bytes(digest, "big")
    out = []
    for _ in range(32):
        n, r = divmod(n, 32)
        out.append(alphabet[r])
    return prefix + "".join(out)


__all__ = ["stable_id"]
