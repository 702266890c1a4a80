"""``idealweek auth …`` and ``idealweek calendars``: sign-in, moving a sign-in, listing calendars.

The service-specific flows live in the provider modules; this module looks
up the account, opens the secret store and moves sign-ins between machines.
An exported sign-in is a single line: ``idealweek-signin:v2:<salt>:<token>``
encrypted with a passphrase (scrypt + Fernet, the default on a terminal), or
``idealweek-signin:v1:<base64 JSON>`` in the clear (``--no-encrypt``).  It is a
secret (it holds a refresh token) and is never logged.  ``--file`` writes a new
file only (mode 600, ``O_EXCL|O_NOFOLLOW``: an existing file or a planted link
is refused unless ``--force``).  ``auth import`` checks that the export is for
this account and that the token looks like a sign-in of that service.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import getpass
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from idealweek.errors import UserError
from idealweek.fsutil import create_new
from idealweek.secrets import secret_name

if TYPE_CHECKING:
    from idealweek.app import App
    from idealweek.secrets import SecretStore

PREFIX = "idealweek-signin:v1:"
"""A plain export: base64 of the JSON document."""
SEALED_PREFIX = "idealweek-signin:v2:"
"""A passphrase-encrypted export: ``v2:<base64 salt>:<Fernet token>``, the key made with scrypt."""


def _account(app: App, name: str) -> str:
    accounts = app.settings.accounts
    if name not in accounts:
        hint = difflib.get_close_matches(name, list(accounts), n=1)
        extra = f" (did you mean {hint[0]!r}?)" if hint else ""
        known = ", ".join(sorted(accounts)) or "none: add an [accounts.NAME] table"
        raise UserError(f"{app.config_path}: unknown account {name!r}{extra}; known accounts: {known}")
    return accounts[name].provider


def command(
    app: App,
    action: str,
    account: str,
    *,
    port: int = 0,
    open_browser: bool = True,
    file: str | None = None,
    force: bool = False,
    encrypt: bool | None = None,
    passphrase_file: str | None = None,
    password_stdin: bool = False,
) -> int:
    """``idealweek auth google|outlook|caldav|export|import ACCOUNT``."""
    provider = _account(app, account)
    store = app.secrets(required=True)
    assert store is not None
    if action == "caldav":
        if provider != action:
            raise UserError(f"account {account!r} is a {provider} account: use `idealweek auth {provider} {account}`")
        from idealweek.providers import caldav

        password = _read_password(account, password_stdin)
        found = caldav.sign_in(app.settings, app.config_path, account, store, password=password)
        print(f"Password for account {account!r} (caldav) checked ({found} calendars) and kept in {store.description}.")
        return 0
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
        return _export(store, provider, account, file, force=force, encrypt=encrypt, passphrase_file=passphrase_file)
    if action == "import":
        return _import(store, provider, account, file, force=force, passphrase_file=passphrase_file)
    raise UserError(f"unknown auth action {action!r}")


def _export(
    store: SecretStore,
    provider: str,
    account: str,
    file: str | None,
    *,
    force: bool,
    encrypt: bool | None,
    passphrase_file: str | None,
) -> int:
    value = store.get(secret_name(account))
    if value is None:
        raise UserError(f"no sign-in stored for account {account!r}: run `idealweek auth {provider} {account}` first")
    doc = json.dumps({"account": account, "provider": provider, "token": value}).encode("utf-8")
    if encrypt is None:
        encrypt = _is_tty(sys.stdin)
    if encrypt:
        blob = seal(doc, _passphrase(passphrase_file, confirm=True))
    else:
        blob = PREFIX + base64.urlsafe_b64encode(doc).decode("ascii")
    what = "protected by your passphrase" if encrypt else "NOT encrypted: anyone who reads it can use your calendars"
    if file:
        path = Path(file)
        try:
            create_new(path, blob + "\n", force=force)
        except FileExistsError:
            raise UserError(
                f"{path} exists already (or is a link); the sign-in is written to a new file only. "
                "Choose another name, or pass --force to replace it."
            ) from None
        except OSError as exc:
            raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None
        print(
            f"Sign-in for {account!r} written to {path} (mode 600, {what}). Move it safely, "
            "import it with `idealweek auth import`, then delete it.",
            file=sys.stderr,
        )
    else:
        print(
            f"This line is a secret ({what}); pipe it straight into `idealweek auth import`.",
            file=sys.stderr,
        )
        print(blob)
    return 0


def _import(
    store: SecretStore, provider: str, account: str, file: str | None, *, force: bool, passphrase_file: str | None
) -> int:
    if file:
        try:
            text = Path(file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"cannot read {file}: {getattr(exc, 'strerror', None) or exc}") from None
    else:
        text = sys.stdin.read()
    text = text.strip()
    if text.startswith(SEALED_PREFIX):
        raw = unseal(text, _passphrase(passphrase_file, confirm=False))
    elif text.startswith(PREFIX):
        try:
            raw = base64.urlsafe_b64decode(text[len(PREFIX) :].encode("ascii"))
        except (ValueError, binascii.Error):
            raise UserError("the sign-in line is damaged (copy it again, whole)") from None
    else:
        raise UserError(
            "not an idealweek sign-in: expected a line starting with 'idealweek-signin:' "
            "(made by `idealweek auth export`)"
        )
    try:
        doc = json.loads(raw)
        token, kind, exported = str(doc["token"]), str(doc["provider"]), str(doc.get("account", ""))
    except (ValueError, KeyError, TypeError):
        raise UserError("the sign-in line is damaged (copy it again, whole)") from None
    if kind != provider:
        raise UserError(f"that sign-in is for a {kind} account, but {account!r} is a {provider} account")
    if exported and exported != account and not force:
        raise UserError(
            f"that sign-in was exported from account {exported!r}, not {account!r}; import it under the "
            "same account name, or pass --force if the two configs name the same account differently"
        )
    store.set(secret_name(account), validate_token(provider, token))
    print(f"Sign-in imported for account {account!r}; kept in {store.description}.")
    return 0


def seal(doc: bytes, passphrase: str) -> str:
    """``doc`` encrypted with a passphrase (scrypt + Fernet, as the file secret store) as one line."""
    from cryptography.fernet import Fernet

    from idealweek.secrets import scrypt_key

    salt = os.urandom(16)
    token = Fernet(scrypt_key(passphrase.encode("utf-8"), salt)).encrypt(doc)
    return SEALED_PREFIX + base64.urlsafe_b64encode(salt).decode("ascii") + ":" + token.decode("ascii")


def unseal(text: str, passphrase: str) -> bytes:
    """The document of a line made by :func:`seal`; a clear error for a wrong passphrase."""
    from cryptography.fernet import Fernet, InvalidToken

    from idealweek.secrets import scrypt_key

    salt_text, _, token = text[len(SEALED_PREFIX) :].partition(":")
    try:
        salt = base64.urlsafe_b64decode(salt_text.encode("ascii"))
        return Fernet(scrypt_key(passphrase.encode("utf-8"), salt)).decrypt(token.encode("ascii"))
    except InvalidToken:
        raise UserError("cannot decrypt the sign-in: wrong passphrase, or the line is damaged") from None
    except (ValueError, binascii.Error):
        raise UserError("the sign-in line is damaged (copy it again, whole)") from None


def validate_token(provider: str, token: str) -> str:
    """Check an imported token before it is stored; returns it (normalised).  Raises UserError."""
    if provider == "google":
        from idealweek.providers.google.auth import check_token_json

        return check_token_json(token)
    if provider != "outlook":
        if not token.strip():
            raise UserError(f"this exported {provider} sign-in is empty")
        return token
    try:
        cache = json.loads(token)
    except ValueError:
        raise UserError("this is not an exported Outlook sign-in (not JSON)") from None
    if not isinstance(cache, dict) or not cache.get("RefreshToken") or not cache.get("Account"):
        raise UserError("this is not an exported Outlook sign-in: it holds no account or refresh token")
    return token


MIN_PASSPHRASE = 8


def _passphrase(passphrase_file: str | None, *, confirm: bool) -> str:
    """The passphrase from ``--passphrase-file`` or, on a terminal, asked for (twice when choosing one)."""
    if passphrase_file:
        try:
            lines = Path(passphrase_file).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"cannot read {passphrase_file}: {getattr(exc, 'strerror', None) or exc}") from None
        phrase = lines[0] if lines else ""
    else:
        if not _terminal_available():
            raise UserError("a passphrase is needed: pass --passphrase-file FILE, or run on a terminal")
        try:
            phrase = getpass.getpass("Passphrase for the exported sign-in: ")
            if confirm and getpass.getpass("Again: ") != phrase:
                raise UserError("the two passphrases differ; nothing was written")
        except (EOFError, OSError):
            raise UserError("no passphrase given: pass --passphrase-file FILE or run on a terminal") from None
    if len(phrase) < MIN_PASSPHRASE:
        raise UserError(f"the passphrase is too short: use at least {MIN_PASSPHRASE} characters")
    return phrase


def _terminal_available() -> bool:
    try:
        with open("/dev/tty", "rb"):
            return True
    except OSError:
        return False


def _is_tty(stream: object) -> bool:
    try:
        isatty = getattr(stream, "isatty", None)
        return callable(isatty) and bool(isatty())
    except ValueError:  # a closed stream
        return False


def _read_password(account: str, from_stdin: bool) -> str:
    """One line from standard input (``--password-stdin``), else a prompt that does not echo."""
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
    else:
        import getpass

        line = getpass.getpass(f"Password for CalDAV account {account!r} (iCloud: an app-specific password): ")
    if not line:
        raise UserError("no password given; nothing stored")
    return line


def calendars_command(app: App, account: str) -> int:
    """``idealweek calendars ACCOUNT``: the account's calendars with their ids."""
    provider = _account(app, account)
    store = app.secrets(required=True)
    assert store is not None
    if provider == "google":
        from idealweek.providers import google

        cals = google.list_calendars(app.settings, app.config_path, account, store)
    elif provider == "caldav":
        from idealweek.providers import caldav

        cals = caldav.list_calendars(app.settings, app.config_path, account, store)
    else:
        from idealweek.providers import outlook

        cals = outlook.list_calendars(app.settings, app.config_path, account, store)
    width = max((len(c.id) for c in cals), default=2)
    print(f"{'id':{width}}  {'access':10}  name")
    for c in cals:
        mark = " (primary)" if c.primary else ""
        print(f"{c.id:{width}}  {c.access:10}  {c.name}{mark}")
    return 0
