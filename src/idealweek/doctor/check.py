"""One line of ``idealweek doctor``, its limits, and the service URLs each account uses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from idealweek import config as cfg

if TYPE_CHECKING:
    pass

TIMEOUT = 5.0
MAX_SKEW_S = 120.0
GOOGLE_API_ROOT = "https://www.googleapis.com/calendar/v3/"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool | None
    """True pass, False fail, None skipped (not applicable)."""
    detail: str
    warn: bool = False
    """Passes, but something should be fixed (shown as WARN; the exit code stays 0)."""

    def line(self) -> str:
        """The check as printed: redacted like every other output (no feed secrets, no e-mail addresses)."""
        from idealweek.log import redact_text

        mark = "WARN" if self.warn and self.ok is not False else {True: "PASS", False: "FAIL", None: "SKIP"}[self.ok]
        return redact_text(f"{mark}  {self.name}: {self.detail}")


def _account_urls(acct: cfg.GoogleAccount | cfg.OutlookAccount | cfg.CalDavAccount) -> list[tuple[str, str]]:
    if isinstance(acct, cfg.CalDavAccount):
        return [("CalDAV server", acct.url)]
    if isinstance(acct, cfg.GoogleAccount):
        return [
            ("Calendar API", acct.api_root or GOOGLE_API_ROOT),
            ("token endpoint", acct.token_uri or GOOGLE_TOKEN_URI),
        ]
    return [("Graph", acct.graph_root), ("authority", acct.authority)]
