"""One error hierarchy for the whole program."""

from __future__ import annotations


class IdealweekError(Exception):
    """Base class of idealweek's own errors."""

    exit_code = 1


class UserError(IdealweekError):
    """A problem the user can fix; printed without a traceback."""

    exit_code = 1


class ConfigError(UserError):
    """The configuration is invalid (exit code 2)."""

    exit_code = 2

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(self.render())

    def render(self) -> str:
        lines = [f"{self.path}: invalid configuration"]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


class GuardError(UserError):
    """A safety guard stopped the cycle (mass deletion, empty source)."""


class ProviderError(IdealweekError):
    """A calendar service failed; the message names the calendar and the reason."""


class TransientError(ProviderError):
    """Worth retrying later: rate limits, 5xx, dropped connections."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AuthError(ProviderError):
    """The sign-in is missing, expired or revoked; the user must act."""


class AlreadyExists(ProviderError):
    """An event with this id exists already (or existed and was deleted)."""

    def __init__(self, message: str, deleted: bool = False) -> None:
        super().__init__(message)
        self.deleted = deleted


class PreconditionFailed(ProviderError):
    """The event changed since it was read (etag mismatch)."""


class NotFound(ProviderError):
    """The event is gone."""


class NotOwned(ProviderError):
    """Refused: idealweek never modifies an event it does not own."""
