"""Where things are: the config file, the state folder, and paths written in the config."""

from __future__ import annotations

import os
from pathlib import Path

from idealweek.config.model import Settings


def default_config_path() -> Path:
    """``$IDEALWEEK_CONFIG``, then ``$XDG_CONFIG_HOME/idealweek/config.toml`` (or systemd's directory)."""
    env = os.environ.get("IDEALWEEK_CONFIG")
    if env:
        return Path(env)
    cfg_dir = os.environ.get("CONFIGURATION_DIRECTORY")
    if cfg_dir:
        return Path(cfg_dir.split(":")[0]) / "config.toml"
    xdg = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(xdg) / "idealweek" / "config.toml"


def state_dir(settings: Settings, config_path: Path | None = None) -> Path:
    """Where the state database lives: config ``state_dir``, ``$STATE_DIRECTORY``, then XDG."""
    if settings.state_dir:
        p = Path(os.path.expanduser(settings.state_dir))
        if not p.is_absolute() and config_path is not None:
            p = config_path.parent / p
        return p
    env = os.environ.get("STATE_DIRECTORY")
    if env:
        return Path(env.split(":")[0])
    xdg = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(xdg) / "idealweek"


def resolve_path(settings_path: Path, value: str) -> Path:
    """A path from the config: ``~`` expanded, relative to the config file's folder."""
    p = Path(os.path.expanduser(value))
    return p if p.is_absolute() else settings_path.parent / p


def key_file(settings: Settings, config_path: Path | None = None) -> str:
    """``secrets.key_file`` as a path: ``~`` expanded, relative to the config file's folder ("" when unset)."""
    value = settings.secrets.key_file
    if not value:
        return ""
    if config_path is None:
        return os.path.expanduser(value)
    return str(resolve_path(config_path, value))
