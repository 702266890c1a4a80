"""A small HTTP proxy on loopback in front of a real CalDAV server, for faults and server quirks.

Requests are forwarded unchanged to the upstream server.  Tests arm
:class:`ProxyFault` values (an HTTP status instead of the server's answer, a
dropped connection before forwarding, or a lost answer after the server acted),
a ``rewrite`` function that edits answers (to play a server quirk the test
servers do not have, e.g. iCloud listing the collection among sync changes),
and a ``hook(method, path, phase)`` called before and after forwarding (the
crash trials hold a write there).
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Rewrite = Callable[[str, str, bytes, int, dict[str, str], bytes], tuple[int, dict[str, str], bytes]]
HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "proxy-connection", "accept-encoding"}
"""Not forwarded; without Accept-Encoding the server answers uncompressed, so rewrites can read it."""


@dataclass
class ProxyFault:
    """One armed fault: the next ``times`` requests matching ``method``/``path``/``body`` get it."""

    status: int = 0
    method: str = ""
    path: str = ""
    body: str = ""
    """A substring the request body must contain (``sync-token`` tells a sync REPORT)."""
    drop: bool = False
    drop_after: bool = False
    retry_after: str = ""
    payload: bytes = b""
    times: int = 1
    hits: int = 0

    def matches(self, method: str, path: str, body: bytes) -> bool:
        return (
            (not self.method or self.method == method)
            and (not self.path or self.path in path)
            and (not self.body or self.body.encode() in body)
        )


@dataclass
class Seen:
    method: str
    path: str
    status: int


@dataclass
class DavProxy:
    upstream_port: int
    faults: list[ProxyFault] = field(default_factory=list)
    rewrite: Rewrite | None = None
    hook: Callable[[str, str, str], None] | None = None
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _handle(self) -> None:
                proxy._serve(self)

            do_GET = do_PUT = do_DELETE = do_PROPFIND = do_REPORT = do_OPTIONS = _handle
            do_MKCALENDAR = do_PROPPATCH = do_HEAD = do_POST = do_MKCOL = _handle

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                return  # a client that timed out or was killed mid-answer is part of the tests

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> DavProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fail(self, **kwargs: Any) -> ProxyFault:
        fault = ProxyFault(**kwargs)
        with self.lock:
            self.faults.append(fault)
        return fault

    def pending(self) -> list[ProxyFault]:
        with self.lock:
            return [f for f in self.faults if f.hits < f.times]

    def count(self, method: str, status: int | None = None) -> int:
        with self.lock:
            return sum(1 for s in self.seen if s.method == method and (status is None or s.status == status))

    def _take(self, method: str, path: str, body: bytes) -> ProxyFault | None:
        with self.lock:
            for fault in self.faults:
                if fault.hits < fault.times and fault.matches(method, path, body):
                    fault.hits += 1
                    return fault
        return None

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        method, path = h.command, h.path
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        fault = self._take(method, path, body)
        if self.hook is not None:
            self.hook(method, path, "before")
        if fault is not None and fault.drop:
            self._record(method, path, 0)
            h.close_connection = True
            return
        if fault is not None and fault.status:
            headers = {"Content-Type": "text/plain"}
            if fault.retry_after:
                headers["Retry-After"] = fault.retry_after
            self._answer(h, fault.status, headers, fault.payload or f"injected {fault.status}".encode())
            self._record(method, path, fault.status)
            return
        status, headers, answer = self._forward(h, method, path, body)
        if self.hook is not None:
            self.hook(method, path, "after")
        if fault is not None and fault.drop_after:
            self._record(method, path, -status)
            h.close_connection = True
            return
        if self.rewrite is not None:
            status, headers, answer = self.rewrite(method, path, body, status, headers, answer)
        self._answer(h, status, headers, answer)
        self._record(method, path, status)

    def _forward(
        self, h: BaseHTTPRequestHandler, method: str, path: str, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=60)
        try:
            headers = {k: v for k, v in h.headers.items() if k.lower() not in HOP}
            headers["Host"] = f"127.0.0.1:{self.upstream_port}"
            conn.request(method, path, body=body or None, headers=headers)
            r = conn.getresponse()
            answer = r.read()
            return r.status, {k: v for k, v in r.getheaders() if k.lower() not in HOP}, answer
        except OSError:
            return 502, {"Content-Type": "text/plain"}, b"upstream unreachable"
        finally:
            conn.close()

    def _answer(self, h: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes) -> None:
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(body)

    def _record(self, method: str, path: str, status: int) -> None:
        with self.lock:
            self.seen.append(Seen(method, path, status))
