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
    freeze_daemon(clock)
    return cli.main(argv[1:])


def freeze_daemon(clock: object) -> None:
    """The daemon (``run`` without ``--once``) on the same pinned clock: its engine and its providers."""
    from idealweek import daemon
    from idealweek.app import App

    providers = App.providers

    def pinned_providers(self: App, secrets: object) -> object:
        made = providers(self, secrets)  # type: ignore[arg-type]
        for provider in made.values():
            if hasattr(provider, "clock"):
                provider.clock = clock
        return made

    App.providers = pinned_providers  # type: ignore[assignment,method-assign]
    init = daemon.Service.__init__

    def pinned_init(self: daemon.Service, *args: object, **kw: object) -> None:
        kw["clock"] = clock
        init(self, *args, **kw)  # type: ignore[arg-type]

    daemon.Service.__init__ = pinned_init  # type: ignore[method-assign]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
