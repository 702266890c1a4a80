"""Helpers for checking pictures in a real browser: headless Chromium, and a tiny PNG reader.

Tests that need the browser use the ``chromium`` fixture of their module,
which skips (with the reason) when Chromium is not installed.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from dataclasses import dataclass
from pathlib import Path

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
    # nothing may leave the machine: every host name fails to resolve
    "--host-resolver-rules=MAP * ~NOTFOUND",
]


def find_chromium() -> str | None:
    """The Chromium binary, or None."""
    for name in (os.environ.get("IDEALWEEK_CHROMIUM", ""), "chromium", "chromium-browser", "google-chrome"):
        if name and (found := shutil.which(name)):
            return found
    return None


@dataclass(frozen=True)
class Page:
    dom: str
    console: list[str]
    """Console messages the page logged (errors included)."""


class Chromium:
    def __init__(self, binary: str, tmp: Path) -> None:
        self.binary = binary
        self.tmp = tmp
        self._n = 0

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        self._n += 1
        profile = self.tmp / f"profile-{self._n}"
        return subprocess.run(
            [self.binary, *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def dump_dom(self, file: Path) -> Page:
        """Load ``file`` and return its DOM after scripts ran, and what it wrote to the console."""
        proc = self._run("--dump-dom", file.resolve().as_uri())
        console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
        return Page(proc.stdout, console)

    def screenshot(self, file: Path, out: Path, width: int, height: int) -> bytes:
        """Render ``file`` to a PNG of ``width`` × ``height`` and return its bytes."""
        self._run(f"--screenshot={out}", f"--window-size={width},{height}", file.resolve().as_uri())
        return out.read_bytes()


# -- PNG ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Image:
    width: int
    height: int
    pixels: list[bytes]
    """One row per entry: RGB(A) bytes."""
    channels: int

    def colours(self, step: int = 2) -> set[bytes]:
        """The distinct colours on a grid of every ``step``-th pixel."""
        c = self.channels
        out: set[bytes] = set()
        for row in self.pixels[::step]:
            for x in range(0, self.width, step):
                out.add(row[x * c : x * c + 3])
        return out

    def share_of(self, rgb: bytes, step: int = 2) -> float:
        """The share of sampled pixels that have colour ``rgb``."""
        c = self.channels
        hits = total = 0
        for row in self.pixels[::step]:
            for x in range(0, self.width, step):
                total += 1
                hits += row[x * c : x * c + 3] == rgb
        return hits / max(total, 1)


def read_png(data: bytes) -> Image:
    """Decode an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos = 8
    idat = b""
    width = height = channels = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _c, _f, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour in (2, 6) and interlace == 0, "unsupported PNG flavour"
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    raw = zlib.decompress(idat)
    stride = width * channels
    rows: list[bytes] = []
    prev = bytearray(stride)
    i = 0
    for _ in range(height):
        ftype = raw[i]
        line = bytearray(raw[i + 1 : i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - channels] if x >= channels else 0
            b = prev[x]
            c = prev[x - channels] if x >= channels else 0
            if ftype == 1:
                line[x] = (line[x] + a) & 0xFF
            elif ftype == 2:
                line[x] = (line[x] + b) & 0xFF
            elif ftype == 3:
                line[x] = (line[x] + (a + b) // 2) & 0xFF
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[x] = (line[x] + pred) & 0xFF
        rows.append(bytes(line))
        prev = line
    return Image(width, height, rows, channels)
