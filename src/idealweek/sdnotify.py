"""The systemd notify protocol, by hand: one datagram per message over ``$NOTIFY_SOCKET``.

The protocol is a few ``KEY=value`` lines sent to an ``AF_UNIX`` datagram
socket whose address is in ``$NOTIFY_SOCKET`` (a path, or ``@name`` for an
abstract socket).  That is all ``sd_notify(3)`` does for the messages used
here, so no library (``sdnotify``, ``systemd-python``, ``cysystemd``) is
pulled in: one needs libsystemd headers to build, the others add nothing but
a dependency.  Without ``$NOTIFY_SOCKET`` every call is a no-op, so the
daemon runs the same on a terminal, under ``systemd --user`` and in a
hardened system unit.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping

import structlog

log = structlog.get_logger(__name__)


def _address(value: str) -> str | bytes | None:
    """The ``sendto`` address for a ``$NOTIFY_SOCKET`` value, or ``None`` when it is not usable."""
    if value.startswith("@"):
        return b"\0" + value[1:].encode()
    if value.startswith("/"):
        return value
    return None  # vsock:… and anything else: not supported here


class Notifier:
    """Sends ``READY=1``, ``WATCHDOG=1``, ``STATUS=…`` and friends to systemd; silent when not under systemd."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        raw = env.get("NOTIFY_SOCKET", "")
        self.address = _address(raw) if raw else None
        if raw and self.address is None:
            log.warning("notify.unsupported_socket", notify_socket=raw)
        self.watchdog_interval: float | None = None
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        if usec.isdigit() and int(usec) > 0 and (not pid or pid == str(os.getpid())):
            self.watchdog_interval = int(usec) / 1_000_000
        self._failed = False

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, *lines: str) -> bool:
        """Send one message made of ``KEY=value`` lines; ``False`` when it could not be delivered."""
        if self.address is None:
            return False
        payload = "\n".join(line.replace("\n", " ") for line in lines).encode("utf-8")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto(payload, self.address)
        except OSError as exc:
            if not self._failed:  # say it once, not every cycle
                log.warning("notify.send_failed", error=str(exc))
                self._failed = True
            return False
        self._failed = False
        return True

    def ready(self, status: str = "") -> bool:
        return self.send("READY=1", *([f"STATUS={status}"] if status else []))

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={text}")

    def watchdog(self) -> bool:
        return self.watchdog_interval is not None and self.send("WATCHDOG=1")

    def reloading(self) -> bool:
        # MONOTONIC_USEC lets Type=notify-reload (systemd ≥ 253) match the reload; older versions ignore it.
        return self.send("RELOADING=1", f"MONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}")

    def stopping(self) -> bool:
        return self.send("STOPPING=1")
