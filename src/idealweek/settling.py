"""Has the daemon settled?  A few words from the figures of the recent cycles (pure).

A cycle that plans no operation is *quiet*; the engine converges, so after the
user stops changing things a quiet cycle comes within a few cycles.  ``STATUS=``
and ``status --json`` say "settled" or "N operations pending for M cycles";
``doctor`` warns when the last :data:`ALWAYS_WRITING` cycles all wrote.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

ALWAYS_WRITING = 10
"""``doctor`` warns when this many cycles in a row wrote to a calendar."""


def pending_streak(planned: Sequence[int]) -> int:
    """How many cycles in a row, up to the newest (last), planned at least one operation."""
    n = 0
    for ops in reversed(planned):
        if ops <= 0:
            break
        n += 1
    return n


def settle_text(pending: int, cycles: int) -> str:
    """``settled``, or ``N operations pending for M cycles`` (M = the cycles in a row that planned some)."""
    if pending <= 0:
        return "settled"
    ops = f"{pending} operation{'s' if pending != 1 else ''} pending"
    if cycles <= 0:
        return f"{ops} for the next cycle"
    return f"{ops} for {cycles} cycle{'s' if cycles != 1 else ''}"


def planned_ops(cycles: Sequence[Mapping[str, object]]) -> list[int]:
    """The operations each recorded cycle planned (oldest first), from the cycle summaries."""
    return [_int(c.get("operations")) for c in cycles]


def always_writing(cycles: Sequence[Mapping[str, object]], n: int = ALWAYS_WRITING) -> bool:
    """True when at least ``n`` cycles are recorded and the last ``n`` of them all wrote."""
    recent = cycles[-n:]
    return len(recent) >= n and all(_int(c.get("writes")) > 0 for c in recent)


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
