"""Loopback HTTP plumbing shared by the fake services (Google, Graph, the TLS authority).

* :func:`serve` / :class:`Served`: a threaded server on ``127.0.0.1`` with an
  OS-chosen port (optionally TLS), stopped cleanly;
* :class:`LoopbackFake`: the lifecycle every fake has (``start``/``stop``, a
  context manager, ``origin``), building its request handler with ``fake = self``;
* :class:`FakeHandler`: a quiet ``BaseHTTPRequestHandler`` that reads bodies,
  sends answers, drops connections and runs the fake's ``hook``;
* :func:`take_fault`: the next matching injected fault, used up ``times`` times.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Protocol, TypeVar


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, addr = super().get_request()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms Nagle/delayed-ACK stalls
        return conn, addr


@dataclass
class Served:
    server: ThreadingHTTPServer
    thread: threading.Thread
    scheme: str

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def origin(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def serve(handler: type[BaseHTTPRequestHandler], ssl_context: ssl.SSLContext | None = None) -> Served:
    """Start ``handler`` on 127.0.0.1 with an OS-chosen port, in a daemon thread."""
    server = _Server(("127.0.0.1", 0), handler)
    if ssl_context is not None:
        server.socket = ssl_context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return Served(server, thread, "https" if ssl_context else "http")


class FakeHandler(BaseHTTPRequestHandler):
    """The request handler every fake derives from; ``fake`` is set by :meth:`LoopbackFake.start`."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    fake: Any

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send_bytes(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        """Answer ``status`` with ``headers`` (Content-Length added) and ``body``."""
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def drop(self) -> None:
        """Close the connection without answering."""
        self.close_connection = True
        with suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def run_hook(self, method: str, path: str, phase: str) -> None:
        """``fake.hook(method, path, phase)`` when a test set one (it may block this server thread)."""
        hook: Callable[[str, str, str], None] | None = getattr(self.fake, "hook", None)
        if hook is not None:
            hook(method, path, phase)


class LoopbackFake:
    """Lifecycle of a fake service on loopback: ``start``/``stop``, context manager, ``origin``."""

    handler_class: ClassVar[type[FakeHandler]]
    served: Served | None = None

    def ssl_context(self) -> ssl.SSLContext | None:
        """The server's TLS context (plain HTTP by default)."""
        return None

    def start(self) -> Any:
        handler = type(f"{type(self).__name__}Handler", (self.handler_class,), {"fake": self})
        self.served = serve(handler, self.ssl_context())
        return self

    def stop(self) -> None:
        if self.served is not None:
            self.served.stop()
            self.served = None

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def origin(self) -> str:
        assert self.served is not None, "start() the fake first"
        return self.served.origin


class _Countdown(Protocol):
    times: int


F = TypeVar("F", bound=_Countdown)


def take_fault(lock: Any, faults: list[F], matches: Callable[[F], bool]) -> F | None:
    """The first of ``faults`` that ``matches`` (removed once used ``times`` times), under ``lock``."""
    with lock:
        for fault in faults:
            if matches(fault):
                fault.times -= 1
                if fault.times <= 0:
                    faults.remove(fault)
                return fault
    return None
