"""Alert channels: the ``[alerts] urls`` with their secrets filled in, sent through apprise.

A URL in the config never holds a secret itself: it names one as
``{secret:NAME}``, whose value is ``alert:NAME`` in the secret store (put
there with ``idealweek alerts secret NAME``).  The value is percent-encoded
into the URL.  A channel is identified in the sent-log by a hash of the URL
*as written* (with the reference, never the secret): changing a token does
not resend old alerts, and a channel added later receives only the alerts
whose condition still holds.

apprise is imported here only, when something is sent: ``idealweek --help``
stays fast.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import structlog

from idealweek.config import SECRET_REF, Settings
from idealweek.errors import UserError

if TYPE_CHECKING:
    from idealweek.secrets import SecretStore

log = structlog.get_logger(__name__)


def secret_name(name: str) -> str:
    """Where the secret ``{secret:NAME}`` lives in the secret store."""
    return f"alert:{name}"


@dataclass(frozen=True)
class Channel:
    """One configured alert URL."""

    index: int
    template: str
    """The URL as written in the config (secret references, never secrets)."""

    @property
    def id(self) -> str:
        return hashlib.sha256(self.template.encode("utf-8")).hexdigest()[:12]

    @property
    def scheme(self) -> str:
        return self.template.split("://", 1)[0]

    @property
    def secrets(self) -> list[str]:
        return SECRET_REF.findall(self.template)

    def describe(self) -> str:
        """A safe description for messages and logs: the scheme and the position, nothing else."""
        return f"alerts.urls[{self.index}] ({self.scheme}://)"


def channels(settings: Settings) -> list[Channel]:
    return [Channel(i, url) for i, url in enumerate(settings.alerts.urls)]


def needs_secrets(settings: Settings) -> bool:
    return any(c.secrets for c in channels(settings))


def open_secrets(settings: Settings, config_path: Path) -> SecretStore:
    """The secret store of this configuration (alerts need it even when no account does)."""
    from idealweek.config import key_file, state_dir
    from idealweek.secrets import open_store

    sc = settings.secrets
    return open_store(sc.store, state_dir(settings, config_path), key_file(settings, config_path), sc.credential)


def resolve(channel: Channel, secrets: SecretStore | None) -> str:
    """The URL with its secrets filled in; raises UserError naming the missing secret."""
    missing: list[str] = []

    def fill(m: re.Match[str]) -> str:
        name = m.group(1)
        value = secrets.get(secret_name(name)) if secrets is not None else None
        if value is None:
            missing.append(name)
            return ""
        return quote(value, safe="")

    url = SECRET_REF.sub(fill, channel.template)
    if missing:
        names = ", ".join(sorted(set(missing)))
        raise UserError(
            f"{channel.describe()}: the secret {names} is not in the secret store; "
            f"store it with `idealweek alerts secret {missing[0]}`"
        )
    return url


def send(channel: Channel, url: str, title: str, body: str, warning: bool = False) -> bool:
    """Send one message through one channel; True when apprise reports success.  Never raises."""
    try:
        import apprise

        ap = apprise.Apprise()
        if not ap.add(url):
            log.error("alert.bad_url", channel=channel.describe(), hint="not a URL apprise understands")
            return False
        kind = apprise.NotifyType.WARNING if warning else apprise.NotifyType.INFO
        ok = bool(ap.notify(body=body, title=title, notify_type=kind))
    except Exception as exc:  # noqa: BLE001 - a broken channel must not break a cycle
        log.error("alert.send_failed", channel=channel.describe(), error=type(exc).__name__)
        return False
    if not ok:
        log.warning("alert.not_delivered", channel=channel.describe())
    return ok


def check_urls(settings: Settings, secrets: SecretStore | None) -> list[str]:
    """Problems with the configured channels (unknown scheme, missing secret); empty when all are fine."""
    import apprise

    problems: list[str] = []
    for ch in channels(settings):
        try:
            url = resolve(ch, secrets)
        except UserError as exc:
            problems.append(str(exc))
            continue
        if not apprise.Apprise().add(url):
            problems.append(f"{ch.describe()}: apprise does not understand this URL (see the apprise wiki)")
    return problems


def send_all(chans: Sequence[Channel], secrets: SecretStore | None, title: str, body: str) -> dict[int, bool]:
    """Send to every channel (``alerts test``); index → delivered."""
    out: dict[int, bool] = {}
    for ch in chans:
        try:
            url = resolve(ch, secrets)
        except UserError as exc:
            log.error("alert.secret_missing", channel=ch.describe(), error=str(exc))
            out[ch.index] = False
            continue
        out[ch.index] = send(ch, url, title, body)
    return out
