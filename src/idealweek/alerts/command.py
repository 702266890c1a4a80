"""``idealweek alerts test`` (send one message to every channel) and ``idealweek alerts secret NAME``."""

from __future__ import annotations

import getpass
import sys
from typing import TYPE_CHECKING

from idealweek.alerts import channels as ch
from idealweek.config import SECRET_REF
from idealweek.errors import UserError

if TYPE_CHECKING:
    from idealweek.app import App


def command(app: App, action: str, name: str = "") -> int:
    """``alerts test`` / ``alerts secret NAME``; returns the exit code."""
    settings = app.settings
    if action == "secret":
        if not SECRET_REF.fullmatch("{secret:" + name + "}"):
            raise UserError(f"secret name {name!r}: use letters, digits, _ . and - only")
        value = sys.stdin.read().strip() if not sys.stdin.isatty() else getpass.getpass(f"value of {name}: ")
        if not value:
            raise UserError("no value given: nothing stored")
        store = ch.open_secrets(settings, app.config_path)
        store.set(ch.secret_name(name), value)
        used = any(name in c.secrets for c in ch.channels(settings))
        hint = "" if used else f" (no URL in [alerts] uses {{secret:{name}}} yet)"
        print(f"Secret {name!r} kept in {store.description}{hint}.")
        return 0
    # test
    chans = ch.channels(settings)
    if not chans:
        raise UserError(f'{app.config_path}: [alerts] urls is empty: add an apprise URL, e.g. "ntfy://ntfy.sh/TOPIC"')
    secrets = ch.open_secrets(settings, app.config_path) if ch.needs_secrets(settings) else None
    problems = ch.check_urls(settings, secrets)
    for p in problems:
        print(f"  ! {p}", file=sys.stderr)
    results = ch.send_all(
        chans,
        secrets,
        "idealweek: test alert",
        "This is a test from `idealweek alerts test`: alerts reach you through this channel.",
    )
    for c in chans:
        print(f"  {'sent' if results.get(c.index) else 'FAILED'}: {c.describe()}")
    failed = [i for i, ok in results.items() if not ok]
    if failed:
        print(f"{len(failed)} of {len(chans)} channels failed (run with --log-level debug for apprise's reasons)")
        return 1
    print(f"Test alert sent to {len(chans)} channel(s).")
    return 0
