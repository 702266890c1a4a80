"""Handing memory the process no longer uses back to the system (issue 15: the daemon's idle RSS)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ctypes

_LIBC: ctypes.CDLL | bool | None = None
"""The C library with glibc's ``malloc_trim``; False where there is none (musl, macOS); None: not looked up yet."""


def _libc() -> ctypes.CDLL | bool:
    global _LIBC
    if _LIBC is None:
        try:
            import ctypes

            _LIBC = ctypes.CDLL(None)  # the process's own symbols: glibc's malloc_trim where there is one
            _LIBC.malloc_trim  # noqa: B018 - not glibc (musl, macOS): no such symbol
        except (OSError, AttributeError):
            _LIBC = False
    return _LIBC


M_ARENA_MAX = -8
"""glibc's ``mallopt`` parameter: the most malloc arenas the process uses."""


def one_arena() -> None:
    """One malloc arena for the whole process (glibc; call before any thread starts).

    glibc gives each thread that allocates at the same time as another its own arena (up to 8 a core);
    the daemon's few threads (the sync job, the watchdog, a read's page fetcher) take turns on the GIL,
    so extra arenas only keep more freed memory resident (~1 MB at 40k events; issue 15).
    """
    libc = _libc()
    if libc and not isinstance(libc, bool):
        libc.mallopt(M_ARENA_MAX, 1)


def release_memory() -> None:
    """Hand memory freed by the cycle back to the system (issue 15: idle RSS).

    A full sync parses every event of a calendar at once; once they are in the state database the
    engine keeps only the planning window, but glibc keeps the freed heap unless asked to trim it.
    """
    libc = _libc()
    if libc and not isinstance(libc, bool):
        libc.malloc_trim(0)
