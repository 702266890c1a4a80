"""Run the real ``idealweek`` command with its clock pinned: ``python -m tests.safety.frozen_cli ISO-TIME ARGS…``.

The crash harness compares the calendars after crashes with a clean run at
the same instant; with the wall clock the planning horizon would slide between
the two.  Everything else is the unchanged command (config, secret store,
providers, state database, exit codes).
"""

from __future__ import annotations

import sys
from datetime import datetime


def main(argv: list[str]) -> int:
    now = datetime.fromisoformat(argv[0])

    def clock() -> datetime:
        return now

    from idealweek import cli
    from idealweek.app import App

    original = App.engine

    def engine(self: App, store: object) -> object:
        made = original(self, store)  # type: ignore[arg-type]
        made.clock = clock
        for provider in made.providers.values():
            if hasattr(provider, "clock"):
                provider.clock = clock
        return made

    App.engine = engine  # type: ignore[assignment,method-assign]
    return cli.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
