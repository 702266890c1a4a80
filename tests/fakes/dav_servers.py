"""Real CalDAV servers for the tests: Radicale and Xandikos as subprocesses on loopback ports.

Each :class:`DavServer` runs the real server on ``127.0.0.1`` with a
temporary storage folder and waits until it answers an ``OPTIONS`` request
(no fixed sleeps).  Radicale checks a user name and password (htpasswd,
plain); Xandikos has no authentication of its own.  :class:`DavUser` is the
user's side: another CalDAV client (the ``caldav`` library itself) adding,
retitling, moving and deleting events on the same server.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

USER = "jane"
PASSWORD = "correct horse battery staple"
KINDS = ("radicale", "xandikos")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class DavServer:
    """One real CalDAV server on a loopback port."""

    def __init__(self, kind: str, root: Path, *, tls: bool = False) -> None:
        assert kind in KINDS, kind
        assert not tls or kind == "radicale", "TLS is set up for Radicale only"
        self.kind = kind
        self.tls = tls
        self.ca_path: Path | None = None
        self.root = root
        self.storage = root / f"{kind}-storage"
        self.storage.mkdir(parents=True, exist_ok=True)
        self.log_path = root / f"{kind}.log"
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._names = itertools.count(1)

    # -- life cycle ------------------------------------------------------------------------
    @property
    def username(self) -> str:
        return USER if self.kind == "radicale" else ""

    @property
    def password(self) -> str:
        return PASSWORD if self.kind == "radicale" else ""

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/"

    def _tls_args(self) -> list[str]:
        """A throw-away CA (trustme) and a certificate for 127.0.0.1; the CA's PEM is ``ca_path``."""
        import trustme

        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        self.ca_path = self.root / "dav-ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_path))
        chain, key = self.root / "dav-cert.pem", self.root / "dav-key.pem"
        cert.cert_chain_pems[0].write_to_path(str(chain))
        for extra in cert.cert_chain_pems[1:]:
            extra.write_to_path(str(chain), append=True)
        cert.private_key_pem.write_to_path(str(key))
        return ["--server-ssl", "True", "--server-certificate", str(chain), "--server-key", str(key)]

    @property
    def home(self) -> str:
        """The path under which the user's calendars live."""
        return f"/{USER}/" if self.kind == "radicale" else "/user/calendars/"

    def _command(self) -> list[str]:
        if self.kind == "radicale":
            users = self.root / "htpasswd"
            users.write_text(f"{USER}:{PASSWORD}\n")
            return [
                sys.executable,
                "-m",
                "radicale",
                "--server-hosts",
                f"127.0.0.1:{self.port}",
                "--auth-type",
                "htpasswd",
                "--auth-htpasswd-filename",
                str(users),
                "--auth-htpasswd-encryption",
                "plain",
                "--storage-filesystem-folder",
                str(self.storage),
                "--logging-level",
                "warning",
                *(self._tls_args() if self.tls else []),
            ]
        return [
            sys.executable,
            "-m",
            "xandikos",
            "serve",
            "-d",
            str(self.storage),
            "--defaults",
            "-l",
            "127.0.0.1",
            "-p",
            str(self.port),
        ]

    def start(self, deadline: float = 60.0) -> DavServer:
        """Start the server (on the same port again after :meth:`stop`) and wait until it answers."""
        for _attempt in range(5):
            if not self.port:
                self.port = free_port()
            log = self.log_path.open("ab")
            self.proc = subprocess.Popen(self._command(), stdout=log, stderr=subprocess.STDOUT)
            log.close()
            if self._wait_ready(deadline):
                return self
            self.stop()
            self.port = 0  # the port was taken meanwhile: try another
        raise RuntimeError(f"{self.kind} did not start; see {self.log_path}:\n{self.log_path.read_text()[-2000:]}")

    def _wait_ready(self, deadline: float) -> bool:
        assert self.proc is not None
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                return False
            request = urllib.request.Request(self.url, method="OPTIONS")
            context = None
            if self.tls:
                import ssl

                context = ssl.create_default_context(cafile=str(self.ca_path))
            try:
                with urllib.request.urlopen(request, timeout=2, context=context):
                    return True
            except urllib.error.HTTPError:
                return True  # it answers (401 without credentials is an answer)
            except OSError:
                time.sleep(0.05)  # polling a condition with a deadline, not a fixed wait
        return False

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def __enter__(self) -> DavServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the user's side -------------------------------------------------------------------
    def user(self) -> DavUser:
        return DavUser(self)

    def new_calendar(self, label: str = "cal") -> str:
        """Make a fresh calendar collection; returns its URL path (``/jane/cal-3/``)."""
        cal_id = f"{label}-{next(self._names)}-{uuid.uuid4().hex[:6]}"
        user = self.user()
        try:
            user.mkcalendar(cal_id, f"{label.title()} {cal_id[-6:]}")
        finally:
            user.close()
        return f"{self.home}{cal_id}/"


class DavUser:
    """The user (or their phone) editing the server's calendars with another CalDAV client."""

    def __init__(self, server: DavServer) -> None:
        import caldav

        self.server = server
        # Basic from the first request: Radicale answers an unauthenticated request after a one-second delay.
        self.client: Any = caldav.DAVClient(
            url=server.url,
            username=server.username or None,
            password=server.password or None,
            auth_type="basic" if server.username else None,
        )

    def close(self) -> None:
        self.client.close()

    def url(self, path: str) -> str:
        return str(self.client.url.join(path))

    def mkcalendar(self, cal_id: str, display_name: str) -> None:
        """One MKCALENDAR under the user's calendar home, with a display name."""
        body = (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
            f"<D:set><D:prop><D:displayname>{display_name}</D:displayname></D:prop></D:set></C:mkcalendar>"
        )
        url = self.url(f"{self.server.home}{cal_id}/")
        r = self.client.request(url, "MKCALENDAR", body, {"Content-Type": "application/xml; charset=utf-8"})
        assert r.status == 201, r.status

    def put(self, calendar: str, name: str, ics: str, headers: dict[str, str] | None = None) -> int:
        r = self.client.put(
            self.url(calendar + name), ics, {"Content-Type": "text/calendar; charset=utf-8", **(headers or {})}
        )
        assert r.status < 300, (r.status, name)
        return int(r.status)

    def get(self, calendar: str, name: str) -> tuple[str, str] | None:
        r = self.client.request(self.url(calendar + name), "GET", "", {})
        if r.status == 404:
            return None
        raw = r._raw
        return (raw.decode() if isinstance(raw, bytes) else str(raw)), str(r.headers.get("ETag", ""))

    def delete(self, calendar: str, name: str) -> None:
        r = self.client.delete(self.url(calendar + name))
        assert r.status in (200, 204, 404), r.status

    def names(self, calendar: str) -> list[str]:
        cal = self.client.calendar(url=self.url(calendar))
        out = []
        for obj in cal.get_objects_by_sync_token(None, disable_fallback=True):
            out.append(str(obj.url).rstrip("/").rsplit("/", 1)[-1])
        return sorted(out)

    def objects(self, calendar: str) -> dict[str, str]:
        """Resource name → iCalendar text of every object in the calendar."""
        out = {}
        for name in self.names(calendar):
            got = self.get(calendar, name)
            if got is not None:
                out[name] = got[0]
        return out

    def add(
        self,
        calendar: str,
        title: str,
        start: datetime,
        end: datetime,
        *,
        name: str = "",
        extra: tuple[str, ...] = (),
    ) -> str:
        """Add a plain event; returns its resource name (idealweek's uid for it)."""
        name = name or f"user-{uuid.uuid4().hex[:10]}.ics"
        uid = f"{uuid.uuid4()}@phone.example.org"
        self.put(calendar, name, vevent(uid, title, start, end, extra))
        return name

    def edit(self, calendar: str, name: str, old: str, new: str) -> None:
        got = self.get(calendar, name)
        assert got is not None, name
        text = got[0].replace("\r\n", "\n")
        assert old in text, (old, text)
        self.put(calendar, name, text.replace(old, new, 1).replace("\n", "\r\n"))

    def retitle(self, calendar: str, name: str, title: str) -> None:
        self.set(calendar, name, SUMMARY=title)

    def set(self, calendar: str, name: str, **props: object) -> None:
        """Replace properties of the VEVENT(s) in resource ``name`` (``DTSTART=datetime``, ``SUMMARY="…"``)."""
        import icalendar

        got = self.get(calendar, name)
        assert got is not None, name
        cal = icalendar.Calendar.from_ical(got[0])
        for comp in cal.walk("VEVENT"):
            for key, value in props.items():
                comp.pop(key.replace("_", "-"), None)
                comp.add(key.replace("_", "-"), value)
        self.put(calendar, name, cal.to_ical().decode())


def stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def vevent(uid: str, title: str, start: datetime, end: datetime, extra: tuple[str, ...] = ()) -> str:
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//idealweek tests//phone//EN",
        "BEGIN:VEVENT",
        f"UID:{uid}",
        "DTSTAMP:20260101T000000Z",
        f"DTSTART:{stamp(start)}",
        f"DTEND:{stamp(end)}",
        f"SUMMARY:{title}",
        *extra,
        "END:VEVENT",
        "END:VCALENDAR",
        "",
    ]
    return "\r\n".join(lines)


@contextlib.contextmanager
def running(kind: str, root: Path, *, tls: bool = False) -> Iterator[DavServer]:
    server = DavServer(kind, root, tls=tls)
    server.start()
    try:
        yield server
    finally:
        server.stop()
