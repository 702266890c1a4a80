"""structlog set-up: human-readable on a terminal, JSON lines otherwise, secrets redacted.

The redaction processor removes tokens, authorization headers, refresh
tokens, client secrets and passwords from every field, however deeply
nested, from exception texts and from the log lines of other libraries
(urllib3, googleapiclient, msal, apscheduler go through the same chain).
Values read from the secret store are registered (:func:`register_secret`)
and removed wherever they appear.  The same :func:`scrub_text` (alias
:func:`redact_text`) cleans every other output channel too: ``doctor``, the
daemon's ``STATUS=`` line (visible to every local user) and the command
line's messages; it also cuts URLs to their origin (private feed URLs carry
secrets) and masks e-mail addresses (calendar ids).  Event titles, descriptions and locations
are logged only at debug level: the processor drops those keys above debug.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from typing import TYPE_CHECKING, Protocol, TextIO, TypeAlias
from urllib.parse import unquote, urlsplit

import structlog

if TYPE_CHECKING:
    from structlog.typing import EventDict, Processor, WrappedLogger

SECRET_KEYS = re.compile(
    r"(token|authorization|secret|password|passwd|refresh|assertion|code_verifier|device_code|api[_-]?key|cookie"
    r"|credential_blob|private_key)",
    re.IGNORECASE,
)
_JSON_SECRET = r"(?:access|refresh|id)_token|client_secret|password|device_code|code|assertion|private_key"
SECRET_VALUES = [
    re.compile(r"(?i)(authorization\"?\s*[:=]\s*\"?)(?:bearer|basic|negotiate|token)?\s*[^\s\"',}]+"),
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+"),
    re.compile(r"ya29\.[A-Za-z0-9._-]+"),
    re.compile(r"1//[A-Za-z0-9._-]{10,}"),
    re.compile(r"GOCSPX-[A-Za-z0-9_-]+"),
    re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),
    re.compile(r"(?i)\b((?:access|refresh|id)_token|client_secret|code|device_code|password|assertion)=([^&\s\"']+)"),
    re.compile(rf"(?i)([\"'](?:{_JSON_SECRET})[\"']\s*:\s*[\"'])[^\"']+"),
]
REDACTED = "[redacted]"
TITLE_KEYS = frozenset({"title", "titles", "summary", "subject", "description", "location", "body", "attendees"})
"""Keys holding what the user wrote on an event: logged only at debug level."""
QUIET_LIBRARIES = ("apscheduler", "urllib3", "googleapiclient", "google_auth_httplib2", "msal", "requests_oauthlib")
"""Chatty libraries kept at WARNING unless the level is debug (apscheduler always: one line per cycle is ours)."""

_registered: list[str] = []
_registered_lock = threading.Lock()


def register_secret(value: str) -> None:
    """Remember a secret value so it is removed wherever it appears in a log line."""
    if not value or len(value) < 8:
        return
    with _registered_lock:
        if value not in _registered:
            _registered.append(value)
            _registered.sort(key=len, reverse=True)  # longest first: a token inside a JSON blob goes whole


def register_secret_document(text: str) -> None:
    """Register a stored secret: the whole text and, when it is JSON, every string under a secret-looking key.

    ``token_uri``-like keys (addresses, not secrets) are skipped; MSAL's cache keeps its tokens under ``secret``.
    """
    register_secret(text)
    try:
        doc = json.loads(text)
    except ValueError:
        return

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                name = str(k).lower()
                if isinstance(v, str):
                    if SECRET_KEYS.search(name) and not name.endswith(("uri", "url", "type", "expiry", "expires_on")):
                        register_secret(v)
                else:
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(doc)


URL = re.compile(r"\b(?:https?|webcal)://[^\s\"'<>`]*[^\s\"'<>`.,:;!?)\]}]", re.IGNORECASE)
"""A URL in free text; trailing punctuation (``…/feed.ics: timeout``, ``(see https://x/y).``) is not part of it."""
EMAIL = re.compile(r"(?<![\w.+%-])([A-Za-z0-9][\w.+%-]*)@((?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,})\b")


def redact_url(url: str) -> str:
    """A URL fit for any output: scheme, host and port, and the last path segment when it is short.

    Private calendar feeds carry their secret in the path (``…/private-<key>/basic.ics``), the
    query (``?token=…``) or the user part (``user:pass@host``): all of it goes.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "[url]"
    if port:
        host += f":{port}"
    last = parts.path.rstrip("/").rsplit("/", 1)[-1]
    if len(last) > 40:
        last = last[:8] + "…"
    last = EMAIL.sub(_mask_email, unquote(last)) if "@" in unquote(last) else last
    return f"{parts.scheme}://{host}/…/{last}" if last else f"{parts.scheme}://{host}/"


def _mask_email(m: re.Match[str]) -> str:
    return f"{m.group(1)[0]}…@{m.group(2)}"


def scrub_text(text: str) -> str:
    """``text`` fit for any output channel — logs, ``doctor``, the systemd ``STATUS=`` line, CLI messages.

    Registered secrets and anything that looks like a credential are replaced; URLs keep only
    their origin and a short last segment (:func:`redact_url`); e-mail addresses (Google calendar
    ids, mailbox names) keep their first letter and domain.
    """
    with _registered_lock:
        values = list(_registered)
    for value in values:
        if value in text:
            text = text.replace(value, REDACTED)
    for rx in SECRET_VALUES:
        if rx.groups >= 2:
            text = rx.sub(lambda m: m.group(1) + "=" + REDACTED, text)
        elif rx.groups == 1:
            text = rx.sub(lambda m: m.group(1) + REDACTED, text)
        else:
            text = rx.sub(REDACTED, text)
    if "://" in text:
        text = URL.sub(lambda m: redact_url(m.group(0)), text)
    if "@" in text:
        text = EMAIL.sub(_mask_email, text)
    return text


redact_text = scrub_text
"""The one redaction function for every output channel."""


Scrubbed: TypeAlias = "bool | int | float | str | list[Scrubbed] | dict[object, Scrubbed] | None"
"""A log value after :func:`_scrub`: containers rebuilt as dicts and lists, anything else as text."""


def _scrub(value: object, debug: bool, depth: int = 0) -> Scrubbed:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return scrub_text(value)
    if depth > 8:
        return REDACTED
    if isinstance(value, dict):
        out: dict[object, Scrubbed] = {}
        for k, v in value.items():
            name = str(k)
            if SECRET_KEYS.search(name):
                out[k] = REDACTED
            elif name.lower() in TITLE_KEYS and not debug:
                continue
            else:
                out[k] = _scrub(v, debug, depth + 1)
        return out
    if isinstance(value, list | tuple | set | frozenset):
        return [_scrub(v, debug, depth + 1) for v in value]
    # Anything else (exceptions, paths, objects with a revealing repr) is rendered as scrubbed text.
    return scrub_text(str(value))


def redact(_logger: WrappedLogger, method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: drop secrets everywhere, user-written event text above debug."""
    debug = method == "debug" or event_dict.get("level") == "debug"
    for key in list(event_dict):
        if key in ("_record", "_from_structlog"):
            continue
        if key == "event":
            event_dict[key] = _scrub(event_dict[key], debug)
        elif SECRET_KEYS.search(key):
            event_dict[key] = REDACTED
        elif key in TITLE_KEYS and not debug:
            del event_dict[key]
        else:
            event_dict[key] = _scrub(event_dict[key], debug)
    return event_dict


TERMINAL_DETAILS = frozenset({"write"})
"""Events that are details on a terminal (the command prints a summary of them): shown there only at debug.
Under systemd (JSON) they stay at their level: the journal keeps one line per write."""


def _drop_terminal_details(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    if event_dict.get("event") in TERMINAL_DETAILS:
        raise structlog.DropEvent
    return event_dict


class _Stream(Protocol):
    """Where log lines are written."""

    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...

    def isatty(self) -> bool: ...


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is at the moment of writing (it may be swapped, e.g. by test runners)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return _is_tty(sys.stderr)


def _is_tty(stream: _Stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def setup(level: str = "info", fmt: str = "auto", stream: TextIO | None = None) -> None:
    """Configure structlog and the standard library's logging for the process.

    ``fmt``: ``console`` (human-readable), ``json`` (one object per line) or
    ``auto`` (console on a terminal, JSON otherwise, e.g. under systemd).
    """
    out: TextIO | _CurrentStderr = stream if stream is not None else _CurrentStderr()
    tty = _is_tty(out)
    if fmt == "auto":
        fmt = "console" if tty else "json"
    renderer: Processor = (
        structlog.dev.ConsoleRenderer(colors=tty, exception_formatter=structlog.dev.plain_traceback)
        if fmt == "console"
        else structlog.processors.JSONRenderer(sort_keys=True, default=str)
    )
    numeric = getattr(logging, level.upper(), logging.INFO)
    details: list[Processor] = [_drop_terminal_details] if fmt == "console" and numeric > logging.DEBUG else []
    shared: list[Processor] = [
        *details,
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact,
    ]
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(out),  # type: ignore[arg-type]  # write/flush is enough
        cache_logger_on_first_use=False,
    )
    # Other libraries log through the standard library: same redaction, same format, same stream.
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_idealweek", False):
            root.removeHandler(old)
    handler._idealweek = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(numeric)
    for name in QUIET_LIBRARIES:
        quiet = name == "apscheduler" or numeric > logging.DEBUG
        logging.getLogger(name).setLevel(logging.WARNING if quiet else logging.NOTSET)
