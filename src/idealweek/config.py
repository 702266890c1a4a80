"""TOML configuration → validated, frozen settings.

Errors name the file, the key path and the problem, with a "did you mean"
hint for unknown keys; TOML syntax errors give line and column.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Sequence
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    WithJsonSchema,
    model_validator,
)

from idealweek.errors import ConfigError
from idealweek.model import Policy, Role

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_DURATION_RE = re.compile(r"^\s*(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+)s)?\s*$")


def parse_duration(value: object) -> timedelta:
    """Parse ``"30m"``, ``"2h"``, ``"1h30m"``, ``"7d"``, ``"45s"``."""
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        raise ValueError(f'expected a duration like "30m", "2h" or "7d", got {value!r}')
    m = _DURATION_RE.match(value)
    if not value.strip() or m is None or not any(m.groups()):
        raise ValueError(f'invalid duration {value!r}: write it like "30m", "2h", "1h30m" or "7d"')
    d, h, mi, s = (int(g) if g else 0 for g in m.groups())
    return timedelta(days=d, hours=h, minutes=mi, seconds=s)


def format_duration(value: timedelta) -> str:
    """Inverse of :func:`parse_duration` (used for the schema's defaults and messages)."""
    total = int(value.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if total >= size:
            parts.append(f"{total // size}{unit}")
            total %= size
    return "".join(parts) or "0m"


def parse_clock(value: object) -> time:
    """Parse ``"18:00"``; ``"24:00"`` means the end of the day (stored as 23:59:59.999999)."""
    if isinstance(value, time):
        return value
    if not isinstance(value, str) or not re.fullmatch(r"\d{1,2}:\d{2}", value.strip()):
        raise ValueError(f'invalid time {value!r}: write it like "18:00"')
    hh, mm = (int(x) for x in value.strip().split(":"))
    if (hh, mm) == (24, 0):
        return time.max
    if hh > 23 or mm > 59:
        raise ValueError(f"invalid time {value!r}: hours 0-23 and minutes 0-59")
    return time(hh, mm)


def parse_days(value: object) -> frozenset[int]:
    """Parse ``"mon-fri"``, ``"sat,sun"``, ``["mon", "wed-thu"]`` → weekday numbers (mon=0)."""
    if isinstance(value, frozenset):
        return value
    items: list[str]
    if isinstance(value, str):
        items = [p for p in re.split(r"[,\s]+", value.strip().lower()) if p]
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        items = [str(v).strip().lower() for v in value]
    else:
        raise ValueError(f'expected weekdays like "mon-fri" or ["sat", "sun"], got {value!r}')
    days: set[int] = set()
    for item in items:
        if "-" in item:
            a, _, b = item.partition("-")
            if a not in WEEKDAYS or b not in WEEKDAYS:
                raise ValueError(f'invalid weekday range {item!r}: use mon..sun, e.g. "mon-fri"')
            i, j = WEEKDAYS.index(a), WEEKDAYS.index(b)
            days.update(range(i, j + 1) if i <= j else [*range(i, 7), *range(0, j + 1)])
        elif item in WEEKDAYS:
            days.add(WEEKDAYS.index(item))
        else:
            hint = difflib.get_close_matches(item, WEEKDAYS, n=1)
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise ValueError(f"invalid weekday {item!r}: use mon, tue, wed, thu, fri, sat, sun{extra}")
    if not days:
        raise ValueError("no weekdays given")
    return frozenset(days)


def parse_zone(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f'expected an IANA time zone name like "Europe/Berlin", got {value!r}')
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f'unknown time zone {value!r}: use an IANA name like "Europe/Berlin"') from None
    return value


def system_zone() -> str:
    """The system's IANA time zone name (UTC when it cannot be told)."""
    try:
        import tzlocal

        name = tzlocal.get_localzone_name()
        if name:
            ZoneInfo(name)
            return name
    except Exception:  # noqa: BLE001 - any failure means "unknown": fall back to UTC
        pass
    return "UTC"


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^(\d+d)?(\d+h)?(\d+m)?(\d+s)?$", "examples": ["30m", "2h", "7d"]}),
]
Clock = Annotated[
    time,
    BeforeValidator(parse_clock),
    PlainSerializer(lambda t: "24:00" if t == time.max else t.strftime("%H:%M"), return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^\d{1,2}:\d{2}$", "examples": ["18:00"]}),
]
Days = Annotated[
    frozenset[int],
    BeforeValidator(parse_days),
    PlainSerializer(lambda d: [WEEKDAYS[i] for i in sorted(d)], return_type=list),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "examples": ["mon-fri", "sat,sun"]},
                {"type": "array", "items": {"type": "string"}},
            ]
        }
    ),
]
Zone = Annotated[str, BeforeValidator(parse_zone)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Window(_Model):
    """Weekdays plus a local start and end time; ``end`` before ``start`` runs past midnight."""

    days: Days
    start: Clock
    end: Clock

    @model_validator(mode="after")
    def _check(self) -> Window:
        if self.start == self.end:
            raise ValueError("start and end are equal: the window would be empty")
        return self


class Category(_Model):
    """A kind of personal time (family, health, …) and where its make-up blocks may go."""

    title: str = ""
    windows: tuple[Window, ...] = ()
    """Allowed make-up windows; without any, debt of this category cannot be placed and is reported."""


class ProtectRule(Window):
    """One ``[[protect]]`` rule of the ideal week."""

    category: str
    policy: Policy = Policy.CATCH_UP
    title: str = ""
    name: str = ""
    """Stable identity of the rule (default: category@start-end); keep it when you edit the times."""

    def rule_id(self) -> str:
        if self.name:
            return self.name
        end = "24:00" if self.end == time.max else self.end.strftime("%H:%M")
        return f"{self.category}@{self.start:%H:%M}-{end}"


class CatchUp(_Model):
    within: Duration = timedelta(days=7)
    min_block: Duration = timedelta(minutes=30)
    granularity: Duration = timedelta(minutes=15)
    freeze: Duration = timedelta(hours=2)
    prefer: Literal["earliest", "latest"] = "earliest"
    count_tentative: bool = True
    count_all_day: bool = False
    title_prefix: str = "Make-up: "

    @model_validator(mode="after")
    def _check(self) -> CatchUp:
        g = self.granularity.total_seconds()
        if g < 60 or g > 86400 or (g % 60):
            raise ValueError("granularity must be whole minutes between 1m and 1d")
        if self.min_block <= timedelta(0):
            raise ValueError("min_block must be positive")
        if self.within <= timedelta(0):
            raise ValueError("within must be positive")
        return self


class Focus(_Model):
    weekly_target: Duration = timedelta(0)
    chunk: Duration = timedelta(hours=2)
    min_chunk: Duration = timedelta(hours=1)
    title: str = "Focus"
    hours: tuple[Window, ...] = (Window(days=frozenset(range(5)), start=time(9), end=time(17)),)
    focus_time: bool = False
    """On a Google primary calendar of a Workspace user, write focus blocks as eventType focusTime."""

    @model_validator(mode="after")
    def _check(self) -> Focus:
        if self.min_chunk <= timedelta(0) or self.chunk <= timedelta(0):
            raise ValueError("chunk and min_chunk must be positive")
        if self.min_chunk > self.chunk:
            raise ValueError("min_chunk must not be longer than chunk")
        return self


class Mirror(_Model):
    title: str = "Busy"
    blocks: bool = True
    """Mirror protected blocks of the ideal week."""
    makeups: bool = True
    """Mirror make-up blocks."""
    personal: bool = True
    """Mirror events of personal calendars."""


class Safety(_Model):
    max_delete_share: float = Field(default=0.5, ge=0.0, le=1.0)
    """A cycle that would delete more than this share of owned events stops (use --force)."""
    min_owned_for_share: int = Field(default=5, ge=0)
    """The share rule applies once at least this many owned events exist."""


class GoogleAccount(_Model):
    provider: Literal["google"]
    client_secrets: str = ""
    """Path to the OAuth client file of a Desktop app (from Google Cloud console)."""
    api_root: str = ""
    """Calendar API root, e.g. ``https://www.googleapis.com/calendar/v3/`` (empty: Google's default)."""
    token_uri: str = ""
    """Override the token endpoint of the client file (tests, proxies)."""


class OutlookAccount(_Model):
    provider: Literal["outlook"]
    client_id: str
    tenant: str = "common"
    authority: str = "https://login.microsoftonline.com"
    graph_root: str = "https://graph.microsoft.com/v1.0"
    page_size: int = Field(default=100, ge=1, le=1000)
    ca_bundle: str = ""
    """PEM file of extra CA certificates to trust for the authority and Graph (a TLS-inspecting proxy, a
    test CA); relative to the config file.  Empty: the usual trust store.  TLS is never switched off."""


Account = Annotated[GoogleAccount | OutlookAccount, Field(discriminator="provider")]


class CalendarConfig(_Model):
    source: Literal["vdir", "ics", "google", "outlook"]
    roles: tuple[Role, ...]
    account: str = ""
    id: str = ""
    """Calendar id on the service (``primary`` for Google's main calendar)."""
    path: str = ""
    url: str = ""
    category: str = ""
    """For ``personal`` calendars: the category its events protect."""
    policy: Policy = Policy.HARD
    """For ``personal`` calendars: what an intrusion into one of its events means."""
    shared: bool = False

    @model_validator(mode="after")
    def _check(self) -> CalendarConfig:
        if not self.roles:
            raise ValueError("roles must name at least one of meetings, personal, blocks, focus, mirror")
        if self.source == "vdir" and not self.path:
            raise ValueError("a vdir calendar needs path")
        if self.source == "ics":
            if bool(self.path) == bool(self.url):
                raise ValueError("an ics calendar needs exactly one of path or url")
            written = {Role.BLOCKS, Role.FOCUS, Role.MIRROR} & set(self.roles)
            if written:
                raise ValueError(
                    f"an ics calendar is read-only and cannot have roles {sorted(r.value for r in written)}"
                )
        if self.source in ("google", "outlook") and not self.account:
            raise ValueError(f"a {self.source} calendar needs account")
        if Role.PERSONAL in self.roles and self.policy == Policy.CATCH_UP and not self.category:
            raise ValueError("a personal calendar with policy catch-up needs category")
        return self


class Secrets(_Model):
    store: Literal["auto", "keyring", "file"] = "auto"
    key_file: str = ""
    credential: str = "idealweek-key"


class Log(_Model):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "console", "json"] = "auto"


class Settings(_Model):
    """The whole configuration file."""

    timezone: Zone = Field(default_factory=system_zone)
    horizon: Duration = timedelta(days=14)
    sync_interval: Duration = timedelta(seconds=60)
    state_dir: str = ""
    catch_up: CatchUp = CatchUp()
    focus: Focus = Focus()
    mirror: Mirror = Mirror()
    safety: Safety = Safety()
    secrets: Secrets = Secrets()
    log: Log = Log()
    categories: dict[str, Category] = {}
    protect: tuple[ProtectRule, ...] = ()
    accounts: dict[str, Account] = {}
    calendars: dict[str, CalendarConfig] = {}

    @model_validator(mode="after")
    def _check(self) -> Settings:
        problems: list[str] = []
        if self.horizon < timedelta(days=1) or self.horizon > timedelta(days=366):
            problems.append("horizon: must be between 1d and 366d")
        if self.sync_interval < timedelta(seconds=1):
            problems.append("sync_interval: must be at least 1s")
        for i, rule in enumerate(self.protect):
            if rule.category not in self.categories:
                problems.append(_unknown(f"protect[{i}].category", rule.category, self.categories, "category"))
        seen: dict[str, int] = {}
        for i, rule in enumerate(self.protect):
            rid = rule.rule_id()
            if rid in seen:
                problems.append(
                    f"protect[{i}]: same identity {rid!r} as protect[{seen[rid]}]; give one of them a distinct name"
                )
            seen[rid] = i
        for name, cal in self.calendars.items():
            if cal.account and cal.account not in self.accounts:
                problems.append(_unknown(f"calendars.{name}.account", cal.account, self.accounts, "account"))
            elif cal.account:
                acct = self.accounts[cal.account]
                if acct.provider != cal.source:
                    problems.append(
                        f"calendars.{name}.account: account {cal.account!r} is a {acct.provider} account "
                        f"but the calendar's source is {cal.source!r}"
                    )
            if cal.category and cal.category not in self.categories:
                problems.append(_unknown(f"calendars.{name}.category", cal.category, self.categories, "category"))
        if problems:
            raise ValueError("\n".join(problems))
        return self

    # -- convenience -------------------------------------------------------
    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def calendars_with(self, role: Role) -> list[str]:
        return sorted(name for name, cal in self.calendars.items() if role in cal.roles)

    def category_title(self, category: str) -> str:
        cat = self.categories.get(category)
        return cat.title if cat and cat.title else category.replace("_", " ").capitalize()


def _unknown(key: str, value: str, known: dict[str, Any], what: str) -> str:
    hint = difflib.get_close_matches(value, list(known), n=1)
    extra = f" (did you mean {hint[0]!r}?)" if hint else ""
    names = ", ".join(sorted(known)) or "none defined"
    return f"{key}: unknown {what} {value!r}{extra}; known: {names}"


# -- loading ------------------------------------------------------------------


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


def load(path: Path) -> Settings:
    """Read and validate a config file; raises :class:`ConfigError` with every problem found."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(str(path), ["file not found (set --config or $IDEALWEEK_CONFIG)"]) from None
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read: {exc.strerror or exc}"]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), [f"not UTF-8 text (byte {exc.start})"]) from None
    return loads(text, str(path))


def loads(text: str, name: str = "<config>") -> Settings:
    """Validate config text; ``name`` is used in messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(name, [f"TOML syntax error: {exc}"]) from None
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(name, _problems(exc)) from None


def _problems(exc: ValidationError) -> list[str]:
    out: list[str] = []
    for err in exc.errors(include_url=False):
        loc = _loc(err["loc"])
        typ = err["type"]
        if typ == "extra_forbidden":
            parent, key = err["loc"][:-1], str(err["loc"][-1])
            fields = _fields_at(parent)
            hint = difflib.get_close_matches(key, fields, n=1, cutoff=0.6)
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
            out.append(f"{loc}: unknown key{extra}")
            continue
        msg = str(err.get("msg", "invalid"))
        msg = msg.removeprefix("Value error, ")
        if typ == "missing":
            msg = "required key is missing"
        elif typ == "union_tag_invalid" or typ == "union_tag_not_found":
            msg = 'provider must be "google" or "outlook"'
        if "\n" in msg:
            out.extend(part if not loc else f"{loc}.{part}" for part in msg.split("\n"))
            continue
        got = err.get("input")
        if typ.endswith("_type") or typ in ("literal_error", "enum", "greater_than_equal", "less_than_equal"):
            msg = f"{msg} (got {got!r})" if not isinstance(got, dict | list) else msg
        out.append(f"{loc}: {msg}" if loc else msg)
    return out


def _loc(parts: Sequence[int | str]) -> str:
    s = ""
    for p in parts:
        if isinstance(p, int):
            s += f"[{p}]"
        elif p in ("google", "outlook") and s.startswith("accounts."):
            continue  # discriminator branch name, not a key
        else:
            s += ("." if s else "") + str(p)
    return s


def _fields_at(loc: Sequence[int | str]) -> list[str]:
    """Field names of the model found at ``loc`` (for "did you mean")."""
    model: Any = Settings
    i = 0
    parts = list(loc)
    while i < len(parts):
        p = parts[i]
        if isinstance(p, int):
            i += 1
            continue
        if model in (GoogleAccount, OutlookAccount, Account):
            model = GoogleAccount if p == "google" else OutlookAccount if p == "outlook" else model
            if p in ("google", "outlook"):
                i += 1
                continue
        fields = getattr(model, "model_fields", {})
        if p in fields:
            model = _inner(fields[p].annotation, p)
            if model == "dict":
                model = _dict_value(fields[p].annotation)
                i += 2
                continue
        else:
            return []
        i += 1
    if model is Account or model in (GoogleAccount, OutlookAccount):
        return sorted(set(GoogleAccount.model_fields) | set(OutlookAccount.model_fields))
    return sorted(getattr(model, "model_fields", {}))


def _inner(annotation: Any, name: str) -> Any:
    origin = getattr(annotation, "__origin__", None)
    if origin is dict:
        return "dict"
    if origin is tuple:
        return annotation.__args__[0]
    return annotation


def _dict_value(annotation: Any) -> Any:
    return annotation.__args__[1]


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the configuration file (for editors)."""
    schema = Settings.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "idealweek configuration"
    return schema
