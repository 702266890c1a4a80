"""TOML configuration → validated, frozen settings.

Errors name the file, the key path and the problem, with a "did you mean"
hint for unknown keys; TOML syntax errors give line and column.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Sequence
from datetime import time, timedelta
from pathlib import Path
from typing import get_args

from pydantic import ValidationError

from idealweek.config.accounts import Account, CalDavAccount, GoogleAccount, OutlookAccount
from idealweek.config.model import Settings
from idealweek.config.paths import resolve_path
from idealweek.config.types import format_duration
from idealweek.errors import ConfigError


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
    settings = loads(text, str(path))
    problems = missing_folders(settings, path)
    if problems:
        raise ConfigError(str(path), problems)
    return settings


def what_is_missing(settings: Settings) -> list[str]:
    """What a valid config still lacks to do anything (an empty file is valid but does nothing)."""
    from idealweek.model import Role

    gaps: list[str] = []
    if not settings.calendars:
        gaps.append("no calendars: add a [calendars.NAME] table with source and roles (see config.example.toml)")
    elif not settings.calendars_with(Role.MEETINGS):
        gaps.append('no calendar with role "meetings": nothing can intrude on protected time')
    if not settings.protect and not settings.focus.weekly_target:
        gaps.append("no [[protect]] rules and no focus.weekly_target: there is nothing to protect or plan")
    if settings.calendars and settings.protect and not settings.calendars_with(Role.BLOCKS):
        gaps.append('protect rules but no calendar with role "blocks": protected blocks are not written anywhere')
    if settings.calendars and settings.focus.weekly_target and not settings.calendars_with(Role.FOCUS):
        gaps.append('focus.weekly_target is set but no calendar has role "focus": focus blocks are not written')
    together = sorted(name for name, cat in settings.categories.items() if cat.together)
    if together and not settings.calendars_with(Role.HOUSEHOLD):
        gaps.append(
            f'categories {", ".join(together)} set together = true but no calendar has role "household": '
            "their make-ups look only at your own calendars"
        )
    if settings.calendars_with(Role.HOUSEHOLD) and not together:
        gaps.append('calendars with role "household" but no category sets together = true: their busy time is not used')
    return gaps


def missing_folders(settings: Settings, path: Path) -> list[str]:
    """A vdir folder that does not exist is a mistake (a typo) unless the calendar says ``create = true``."""
    problems: list[str] = []
    for name, cal in settings.calendars.items():
        if cal.source != "vdir" or cal.create:
            continue
        folder = resolve_path(path, cal.path)
        if folder.is_dir():
            continue
        if folder.exists():
            problems.append(f"calendars.{name}.path: {folder} is not a folder")
            continue
        hint = ""
        try:
            siblings = [p.name for p in folder.parent.iterdir() if p.is_dir()]
        except OSError:
            siblings = []
        close = difflib.get_close_matches(folder.name, siblings, n=1)
        if close:
            hint = f" (did you mean {str(Path(cal.path).parent / close[0])!r}?)"
        problems.append(
            f"calendars.{name}.path: folder {folder} does not exist{hint}; correct the path, create the folder, "
            "or set create = true"
        )
    return problems


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
            msg = 'provider must be "google", "outlook" or "caldav"'
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
        elif p in ("google", "outlook", "caldav") and s.startswith("accounts."):
            continue  # discriminator branch name, not a key
        else:
            s += ("." if s else "") + str(p)
    return s


def _fields_at(loc: Sequence[int | str]) -> list[str]:
    """Field names of the model found at ``loc`` (for "did you mean")."""
    model: object = Settings
    i = 0
    parts = list(loc)
    while i < len(parts):
        p = parts[i]
        if isinstance(p, int):
            i += 1
            continue
        if model in (GoogleAccount, OutlookAccount, CalDavAccount, Account):
            model = {"google": GoogleAccount, "outlook": OutlookAccount, "caldav": CalDavAccount}.get(str(p), model)
            if p in ("google", "outlook", "caldav"):
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
    if model is Account or model in (GoogleAccount, OutlookAccount, CalDavAccount):
        return sorted(
            set(GoogleAccount.model_fields) | set(OutlookAccount.model_fields) | set(CalDavAccount.model_fields)
        )
    return sorted(getattr(model, "model_fields", {}))


def _inner(annotation: object, name: str) -> object:
    origin = getattr(annotation, "__origin__", None)
    if origin is dict:
        return "dict"
    if origin is tuple:
        return get_args(annotation)[0]
    return annotation


def _dict_value(annotation: object) -> object:
    return get_args(annotation)[1]


def json_schema() -> dict[str, object]:
    """The JSON Schema of the configuration file (for editors)."""
    from pydantic.json_schema import GenerateJsonSchema  # only for `config schema`

    class _ConfigSchema(GenerateJsonSchema):
        """Defaults written as the config writes them ("14d", "18:00"), not as ISO 8601 ("P14D")."""

        def encode_default(self, dft: object) -> object:
            if isinstance(dft, timedelta):
                return format_duration(dft)
            if isinstance(dft, time):
                return "24:00" if dft == time.max else dft.strftime("%H:%M")
            return super().encode_default(dft)

    schema = Settings.model_json_schema(mode="validation", schema_generator=_ConfigSchema)
    _describe_keys(schema)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "idealweek configuration"
    return schema


def _describe_keys(schema: dict[str, object]) -> None:
    """Give every key of the schema the docstring written under it in ``config/`` (model, accounts, alerts, calendars).

    pydantic could collect them itself (``use_attribute_docstrings``), but it reads the source at
    import, on every start of every command (issue 15); only ``config schema`` needs them.
    """
    import ast
    import inspect

    from idealweek.config import accounts, alerts, calendars, model

    modules = (model, accounts, alerts, calendars)
    docs: dict[str, dict[str, str]] = {}
    for node in (n for m in modules for n in ast.parse(inspect.getsource(m)).body):
        if not isinstance(node, ast.ClassDef):
            continue
        own = docs.setdefault(node.name, {})
        for stmt, after in zip(node.body, node.body[1:], strict=False):
            if (
                isinstance(stmt, ast.AnnAssign)
                and isinstance(stmt.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                own[stmt.target.id] = inspect.cleandoc(after.value.value)
    defs = schema.get("$defs", {})
    parts: list[tuple[str, object]] = [("Settings", schema), *(defs.items() if isinstance(defs, dict) else ())]
    for name, part in parts:
        cls = next((c for m in modules if isinstance(c := getattr(m, name, None), type)), None)
        if not isinstance(cls, type) or not isinstance(part, dict):
            continue
        keys: dict[str, str] = {}
        for klass in reversed(cls.__mro__):
            keys.update(docs.get(klass.__name__, {}))
        for key, prop in part.get("properties", {}).items():
            if key in keys and isinstance(prop, dict) and "description" not in prop:
                prop["description"] = keys[key]
