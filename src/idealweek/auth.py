"""``idealweek auth …`` and ``idealweek calendars``: sign-in, moving a sign-in, listing calendars.

The service-specific flows live in the provider modules; this module looks
up the account, opens the secret store and moves sign-ins between machines.
An exported sign-in is a single line ``idealweek-signin:v1:<base64 JSON>``:
it is a secret (it holds a refresh token) and is never logged.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from idealweek.errors import UserError

if TYPE_CHECKING:
    from idealweek.app import App

PREFIX = "idealweek-signin:v1:"


def secret_name(account: str) -> str:
    """Where an account's token lives in the secret store."""
    return f"token:{account}"


def _account(app: App, name: str) -> str:
    accounts = app.settings.accounts
    if name not in accounts:
        hint = difflib.get_close_matches(name, list(accounts), n=1)
        extra = f" (did you mean {hint[0]!r}?)" if hint else ""
        known = ", ".join(sorted(accounts)) or "none: add an [accounts.NAME] table"
        raise UserError(f"{app.config_path}: unknown account {name!r}{extra}; known accounts: {known}")
    return accounts[name].provider


def command(
    app: App, action: str, account: str, *, port: int = 0, open_browser: bool = True, file: str | None = None
) -> int:
    """``idealweek auth google|outlook|export|import ACCOUNT``."""
    provider = _account(app, account)
    store = app.secrets(required=True)
    assert store is not None
    if action in ("google", "outlook"):
        if provider != action:
            raise UserError(f"account {account!r} is a {provider} account: use `idealweek auth {provider} {account}`")
        if action == "google":
            from idealweek.providers import google

            google.sign_in(app.settings, app.config_path, account, store, port=port, open_browser=open_browser)
        else:
            from idealweek.providers import outlook

            outlook.sign_in(app.settings, app.config_path, account, store)
        print(f"Token for account {account!r} ({provider}) kept in {store.description}.")
        return 0
    if action == "export":
        value = store.get(secret_name(account))
        if value is None:
            raise UserError(
                f"no sign-in stored for account {account!r}: run `idealweek auth {provider} {account}` first"
            )
        blob = PREFIX + base64.urlsafe_b64encode(
            json.dumps({"account": account, "provider": provider, "token": value}).encode("utf-8")
        ).decode("ascii")
        if file:
            path = Path(file)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(blob + "\n")
            print(
                f"Sign-in for {account!r} written to {path} (mode 600). It is a secret: move it "
                "safely, import it with `idealweek auth import`, then delete it.",
                file=sys.stderr,
            )
        else:
            print(
                "This line is a secret (it holds a refresh token); pipe it straight into `idealweek auth import`.",
                file=sys.stderr,
            )
            print(blob)
        return 0
    if action == "import":
        text = Path(file).read_text(encoding="utf-8") if file else sys.stdin.read()
        text = text.strip()
        if not text.startswith(PREFIX):
            raise UserError(
                "not an idealweek sign-in: expected a line starting with 'idealweek-signin:v1:' "
                "(made by `idealweek auth export`)"
            )
        try:
            doc = json.loads(base64.urlsafe_b64decode(text[len(PREFIX) :].encode("ascii")))
            token, kind = str(doc["token"]), str(doc["provider"])
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise UserError("the sign-in line is damaged (copy it again, whole)") from None
        if kind != provider:
            raise UserError(f"that sign-in is for a {kind} account, but {account!r} is a {provider} account")
        store.set(secret_name(account), token)
        print(f"Sign-in imported for account {account!r}; kept in {store.description}.")
        return 0
    raise UserError(f"unknown auth action {action!r}")


def calendars_command(app: App, account: str) -> int:
    """``idealweek calendars ACCOUNT``: the account's calendars with their ids."""
    provider = _account(app, account)
    store = app.secrets(required=True)
    assert store is not None
    if provider == "google":
        from idealweek.providers import google

        cals = google.list_calendars(app.settings, app.config_path, account, store)
    else:
        from idealweek.providers import outlook

        cals = outlook.list_calendars(app.settings, app.config_path, account, store)
    width = max((len(c.id) for c in cals), default=2)
    print(f"{'id':{width}}  {'access':10}  name")
    for c in cals:
        mark = " (primary)" if c.primary else ""
        print(f"{c.id:{width}}  {c.access:10}  {c.name}{mark}")
    return 0
