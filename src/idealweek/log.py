"""structlog set-up: human-readable on a terminal, JSON lines otherwise, secrets redacted.

The redaction processor removes tokens, authorization headers, refresh
tokens, client secrets and passwords from every field, however deeply
nested; event titles are logged only at debug level (callers pass them as
``title=`` and the processor drops that key above debug).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

SECRET_KEYS = re.compile(
    r"(token|authorization|secret|password|passwd|refresh|assertion|code_verifier|device_code|api[_-]?key|cookie)",
    re.IGNORECASE,
)
SECRET_VALUES = [
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+"),
    re.compile(r"ya29\.[A-Za-z0-9._-]+"),
    re.compile(r"1//[A-Za-z0-9._-]{10,}"),
    re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),
    re.compile(r"(?i)((?:access|refresh|id)_token|client_secret|code|device_code)=([^&\s\"']+)"),
    re.compile(r"(?i)(\"(?:access|refresh|id)_token\"\s*:\s*\")[^\"]+"),
]
REDACTED = "[redacted]"
TITLE_KEYS = {"title", "summary", "subject", "titles"}
_registered: list[str] = []


def register_secret(value: str) -> None:
    """Remember a secret value so it is removed wherever it appears in a log line."""
    if value and len(value) >= 6 and value not in _registered:
        _registered.append(value)


def scrub_text(text: str) -> str:
    for value in _registered:
        if value in text:
            text = text.replace(value, REDACTED)
    for rx in SECRET_VALUES:
        if rx.groups >= 2:
            text = rx.sub(lambda m: m.group(1) + ("=" if not m.group(1).endswith('"') else "") + REDACTED, text)
        elif rx.groups == 1:
            text = rx.sub(lambda m: m.group(1) + REDACTED, text)
        else:
            text = rx.sub(REDACTED, text)
    return text


def _scrub(value: Any, depth: int = 0) -> Any:
    if depth > 8:
        return value
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {
            k: (REDACTED if isinstance(k, str) and SECRET_KEYS.search(k) else _scrub(v, depth + 1))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(_scrub(v, depth + 1) for v in value)
    if isinstance(value, BaseException):
        return scrub_text(str(value))
    return value


def redact(_logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: drop secrets everywhere, titles above debug."""
    for key in list(event_dict):
        if SECRET_KEYS.search(key) and key not in ("event",):
            event_dict[key] = REDACTED
        elif key in TITLE_KEYS and method != "debug":
            del event_dict[key]
        else:
            event_dict[key] = _scrub(event_dict[key])
    return event_dict


def setup(level: str = "info", fmt: str = "auto", stream: Any = None) -> None:
    """Configure structlog for the process."""
    out = stream or sys.stderr
    if fmt == "auto":
        fmt = "console" if getattr(out, "isatty", lambda: False)() else "json"
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=getattr(out, "isatty", lambda: False)())
        if fmt == "console"
        else structlog.processors.JSONRenderer(sort_keys=True)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper(), logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
