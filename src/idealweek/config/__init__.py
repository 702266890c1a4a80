"""Configuration: value types, models, loading with clear errors, and paths.

``types`` parses durations, times of day and weekdays; ``model`` holds the frozen settings
(``accounts``, ``alerts`` and ``calendars`` the tables of those names); ``load`` reads TOML and renders every
problem with its key path; ``paths`` says where the config, the state and config-relative files live.
"""

from idealweek.config.accounts import Account, CalDavAccount, GoogleAccount, OutlookAccount
from idealweek.config.alerts import SECRET_REF, Alerts, QuietHours
from idealweek.config.calendars import CalendarConfig
from idealweek.config.load import json_schema, load, loads, what_is_missing
from idealweek.config.model import (
    CatchUp,
    CatchUpRule,
    Category,
    Focus,
    Log,
    Mirror,
    ProtectRule,
    Safety,
    Secrets,
    Settings,
    Window,
)
from idealweek.config.paths import default_config_path, key_file, resolve_path, state_dir
from idealweek.config.types import (
    WEEKDAYS,
    Clock,
    Days,
    Duration,
    Zone,
    format_duration,
    parse_clock,
    parse_days,
    parse_duration,
    parse_zone,
    system_zone,
)

__all__ = [
    "SECRET_REF",
    "WEEKDAYS",
    "Account",
    "Alerts",
    "CalDavAccount",
    "CalendarConfig",
    "CatchUp",
    "CatchUpRule",
    "Category",
    "Clock",
    "Days",
    "Duration",
    "Focus",
    "GoogleAccount",
    "Log",
    "Mirror",
    "OutlookAccount",
    "ProtectRule",
    "QuietHours",
    "Safety",
    "Secrets",
    "Settings",
    "Window",
    "Zone",
    "default_config_path",
    "format_duration",
    "json_schema",
    "key_file",
    "load",
    "loads",
    "parse_clock",
    "parse_days",
    "parse_duration",
    "parse_zone",
    "resolve_path",
    "state_dir",
    "system_zone",
    "what_is_missing",
]
