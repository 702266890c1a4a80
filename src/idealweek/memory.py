"""Handing memory the process no longer uses back to the system (issue 15: the daemon's idle RSS)."""

from __future__ import annotations

from typing import Any

_LIBC: Any = None


def _libc() -> Any:
    global _LIBC
    if _LIBC is None:
        try:
            import ctypes

            _LIBC = ctypes.CDLL(None)  # the process's own symbols: glibc's malloc_trim where there is one
            _LIBC.malloc_trim  # noqa: B018 - not glibc (musl, macOS): no such symbol
        except (OSError, AttributeError):
            _LIBC = False
    return _LIBC


def release_memory() -> None:
    """Hand memory freed by the cycle back to the system (issue 15: idle RSS).

    A full sync parses every event of a calendar at once; once they are in the state database the
    engine keeps only the planning window, but glibc keeps the freed heap unless asked to trim it.
    """
    libc = _libc()
    if libc:
        libc.malloc_trim(0)
