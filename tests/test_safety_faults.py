"""The fault matrix: every fault at every step of a cycle, on Google and on Outlook, converges.

See :mod:`tests.safety.faults` for the cells and what each one checks;
``python -m tests.safety.faults`` prints the matrix.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.safety.faults import FAULTS, NOT_APPLICABLE, SERVICES, STEPS, cells, run_cell
from tests.safety.world import Services, services

CELLS = cells()


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    with services(tmp_path_factory.mktemp("safety-faults")) as s:
        yield s


@pytest.mark.parametrize(
    ("service", "fault", "step"), CELLS, ids=[f"{a}-{b}-{c}".replace(" ", "_") for a, b, c in CELLS]
)
def test_fault_at_step_completes_or_stops_cleanly_and_converges(
    svc: Services, service: str, fault: str, step: str
) -> None:
    """The cycle completes or reports the calendar failed; clean cycles then match a run that never saw the fault."""
    row = run_cell(svc, service, fault, step, f"{service[0]}{FAULTS.index(fault)}{step}")
    assert row["outcome"] == "completed" or row["outcome"].startswith(("stopped: ", "conflict"))
    print(row)


def test_matrix_covers_every_fault_and_step() -> None:
    """Each (service, fault, step) is either run or named as not applicable with a reason."""
    assert len(CELLS) + len(NOT_APPLICABLE) == len(SERVICES) * len(FAULTS) * len(STEPS)
    assert len(CELLS) >= 80
