"""Support for the daemon tests (no tests here): a demo copy, a notify socket, a daemon subprocess, polling."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "demo"


def demo_copy(tmp_path: Path, interval: str = "2s", extra: str = "") -> Path:
    """Copy the demo config and calendars to ``tmp_path`` with a short sync interval; returns the config path."""
    shutil.copytree(DEMO / "calendars", tmp_path / "calendars")
    text = (DEMO / "config.toml").read_text()
    text = text.replace('horizon = "14d"\n', f'horizon = "14d"\nsync_interval = "{interval}"\n{extra}', 1)
    cfg = tmp_path / "config.toml"
    cfg.write_text(text)
    return cfg


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        got = predicate()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.05)


class NotifyListener:
    """A datagram socket standing in for systemd's notify socket; collects every message."""

    def __init__(self, tmp_path: Path, abstract: bool = False) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        path = tmp_path / "notify.sock"
        if abstract or len(str(path)) > 100:
            name = f"idealweek-test-{uuid.uuid4().hex}"
            self.sock.bind("\0" + name)
            self.address = "@" + name
        else:
            self.sock.bind(str(path))
            self.address = str(path)
        self.sock.settimeout(0.2)
        self.messages: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.messages.append(data.decode("utf-8"))

    def lines(self) -> list[str]:
        with self._lock:
            return [line for m in self.messages for line in m.split("\n")]

    def count(self, line: str) -> int:
        return sum(1 for x in self.lines() if x == line)

    def statuses(self) -> list[str]:
        return [x.removeprefix("STATUS=") for x in self.lines() if x.startswith("STATUS=")]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


class Daemon:
    """``idealweek run`` in a subprocess, logging JSON lines to a file."""

    def __init__(self, config: Path, notify: NotifyListener | None = None, watchdog_usec: int = 0) -> None:
        self.config = config
        self.log_path = config.parent / "daemon.log"
        env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")}
        env["PYTHONUNBUFFERED"] = "1"
        if notify is not None:
            env["NOTIFY_SOCKET"] = notify.address
        if watchdog_usec:
            env["WATCHDOG_USEC"] = str(watchdog_usec)
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "idealweek.cli", "run", "--config", str(config), "--log-format", "json"],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=config.parent,
        )

    def records(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log_path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append({"event": "<text>", "text": line})
        return out

    def events(self, name: str) -> list[dict[str, Any]]:
        return [r for r in self.records() if r.get("event") == name]

    def signal(self, signo: int) -> None:
        self.proc.send_signal(signo)

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM and wait; the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        finally:
            self._log.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._log.close()
