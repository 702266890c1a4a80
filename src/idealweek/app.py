"""The one place that builds things: a config file → settings, state store, secret store, providers, engine.

Every command starts from an :class:`App` made by :meth:`App.load`; the daemon,
``doctor``, ``auth`` and the renderers take an ``App`` (or what it built) and
never look at the command line.  Heavy modules are imported inside the methods
so ``idealweek --help`` stays fast.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from idealweek.config import Settings
    from idealweek.engine import Engine
    from idealweek.providers.base import Provider
    from idealweek.secrets import SecretStore
    from idealweek.store import Store


@dataclass(frozen=True)
class App:
    """One configuration and how to build what works with it."""

    config_path: Path
    settings: Settings
    log_level: str | None = None
    """``--log-level`` from the command line: wins over the config's ``log.level`` (also after a reload)."""
    log_format: str | None = None
    """``--log-format`` from the command line: wins over the config's ``log.format``."""

    @classmethod
    def load(cls, config: str | Path | None = None, log_level: str | None = None, log_format: str | None = None) -> App:
        """Read the config (``config``, else the default path) and set up logging; raises ConfigError."""
        from idealweek import config as cfg

        path = Path(config) if config else cfg.default_config_path()
        app = cls(path, cfg.load(path), log_level, log_format)
        app.setup_logging()
        return app

    def with_settings(self, settings: Settings) -> App:
        """The same app with another configuration (a reload)."""
        return replace(self, settings=settings)

    def setup_logging(self) -> None:
        from idealweek import log

        log.setup(self.log_level or self.settings.log.level, self.log_format or self.settings.log.format)

    def state_dir(self) -> Path:
        from idealweek.config import state_dir

        return state_dir(self.settings, self.config_path)

    def open_store(self) -> Store:
        """The state database; says so on stderr when a damaged one was moved aside."""
        from idealweek.store import Store

        store = Store(self.state_dir() / "state.sqlite3")
        if store.moved_aside is not None:
            print(
                f"warning: the state database could not be read and was moved to {store.moved_aside}; "
                "a new one was started (ownership is rebuilt from the event tags).",
                file=sys.stderr,
            )
        return store

    def open_snapshot(self) -> Store:
        """The state as a private in-memory snapshot, for a look: nothing done with it is ever written back."""
        from idealweek.store import Store

        return Store.open_snapshot(self.state_dir() / "state.sqlite3")

    def secrets(self, required: bool = False) -> SecretStore | None:
        """The secret store; ``None`` when no calendar needs one (unless ``required``)."""
        from idealweek.providers.factory import needs_secrets
        from idealweek.secrets import open_store

        if not required and not needs_secrets(self.settings):
            return None
        from idealweek.config import key_file

        sc = self.settings.secrets
        return open_store(sc.store, self.state_dir(), key_file(self.settings, self.config_path), sc.credential)

    def providers(self, secrets: SecretStore | None) -> dict[str, Provider]:
        """One provider per configured calendar."""
        from idealweek.providers.factory import make_provider

        return {name: make_provider(self.settings, self.config_path, name, secrets) for name in self.settings.calendars}

    def engine(self, store: Store) -> Engine:
        """The engine over ``store`` with a provider for every calendar."""
        from idealweek.engine import Engine

        return Engine(self.settings, store, self.providers(self.secrets()), config_path=self.config_path)
