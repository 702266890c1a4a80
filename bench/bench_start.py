"""Fast start and a small footprint (issue 15): whole processes against the fake Google server; prints JSON.

Every figure is printed with its target (no timed assertions anywhere: these are measurements):

* ``first_run``: a first ``idealweek run --once`` (fresh state) as a whole process against a whole
  process that only downloads and JSON-parses the same pages with ``requests`` (10,000 events, 2
  calendars, 4 pages of 2,500), interleaved over >= 5 rounds; median ratio and spread; target <= 2.0.
* ``steady``: ``run --once`` with nothing changed at 1k, 10k and 40k events (median wall of the
  whole process); target <= 0.4 s and flat in the calendar's size.
* ``imports``: ``python -X importtime`` of a steady ``run --once`` summarised (the demo config and the
  Google config; best of a few runs, the top packages); target <= 0.2 s.
* ``daemon_rss``: ``idealweek run`` (the daemon) after a few cycles at 10k and 40k events, started on a
  fresh state (its first cycle is the full sync) and restarted on the state it filled; target <= 60 MB
  at 40k (fresh state).
* ``latency``: a meeting lands on a protected block -> its make-up block is on the calendar, with a
  5 s sync interval; target <= the interval.

Events are spread at a constant density (20 a day over both calendars) from two weeks ago on, so a
bigger calendar reaches further into the future while the planning window holds the same events.
The machine's load (``os.getloadavg``) is printed with the figures.  Byte-code caching is on for the
measured processes (as in any installation), whatever ``PYTHONDONTWRITEBYTECODE`` says here.

Run: ``python bench/bench_start.py [--quick] [--only FIGURE]`` (``--only daemon_rss --quick``: 10k only).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.fakes.google_server import GoogleFake  # noqa: E402
from tests.scenario import GOOGLE_FAMILY, google_toml  # noqa: E402

BERLIN = ZoneInfo("Europe/Berlin")
FAMILY = GOOGLE_FAMILY
PER_DAY = 20
"""Events a day over both calendars (a busy but plausible week: the window's content does not grow with n)."""
TARGETS = {
    "first_run_ratio": 2.0,
    "steady_s": 0.4,
    "imports_s": 0.2,
    "daemon_rss_mb_40k": 60.0,
    "latency_interval_s": 5.0,
}
ENV = {
    **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
    "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")]),
    "PYTHONUNBUFFERED": "1",
}

RAW = r"""
import json, sys
from urllib.parse import quote
import requests
root, token, time_min, cals = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
session = requests.Session()
items = pages = 0
for cal in cals:
    params = {"singleEvents": "true", "maxResults": "2500", "timeMin": time_min}
    while True:
        resp = session.get(f"{root}calendars/{quote(cal, safe='')}/events", params=params,
                           headers={"Authorization": f"Bearer {token}"}, timeout=60)
        resp.raise_for_status()
        doc = json.loads(resp.content)
        items += len(doc.get("items", []))
        pages += 1
        if "nextPageToken" not in doc:
            break
        params = {**params, "pageToken": doc["nextPageToken"]}
print(items, pages)
"""


@dataclass
class World:
    """A fake Google with ``events`` events, a config for it and a signed-in file secret store."""

    fake: GoogleFake
    folder: Path
    config: Path
    access: str

    @property
    def state(self) -> Path:
        return self.folder / "state"

    def fresh_state(self) -> None:
        """Forget idealweek's state (the sign-in stays)."""
        for p in self.state.glob("state.sqlite3*"):
            p.unlink()
        for p in self.state.glob("deleted-events.journal*"):
            p.unlink()


def _config_text(fake: GoogleFake, folder: Path, interval: str) -> str:
    return (
        f'state_dir = "{folder / "state"}"\nsync_interval = "{interval}"\n'
        + google_toml(fake, family=True)
        + f"""
[secrets]
store = "file"
key_file = "{folder / "secrets.key"}"
"""
    )


def _populate(fake: GoogleFake, n: int) -> None:
    """``n`` events, :data:`PER_DAY` a day from two weeks ago on, over both calendars, 45 minutes each."""
    me = {"email": fake.primary_id, "self": True, "responseStatus": "accepted"}
    first = datetime.now(BERLIN).replace(hour=8, minute=0, second=0, microsecond=0) - timedelta(days=14)
    per_cal = PER_DAY // 2
    for i in range(n):
        cal, title = ("primary", "Meeting") if i % 2 == 0 else (FAMILY, "Family")
        j = i // 2
        day, slot = divmod(j, per_cal)
        start = first + timedelta(days=day, minutes=50 * slot)
        fake.user_add(cal, f"{title} {i}", start, start + timedelta(minutes=45), attendees=[me], description="x" * 80)


@contextmanager
def google_world(events: int, interval: str = "60s") -> Iterator[World]:
    from idealweek import config as cfgmod
    from idealweek.secrets import generate_key, open_store

    with tempfile.TemporaryDirectory(prefix="idealweek-bench-") as tmp, GoogleFake(page_size=2500) as fake:
        folder = Path(tmp)
        fake.add_calendar(FAMILY, "Family", time_zone="Europe/Berlin")
        _populate(fake, events)
        (folder / "secrets.key").write_text(generate_key())
        (folder / "secrets.key").chmod(0o600)
        cfg = folder / "config.toml"
        cfg.write_text(_config_text(fake, folder, interval))
        settings = cfgmod.load(cfg)
        store = open_store("file", cfgmod.state_dir(settings, cfg), str(folder / "secrets.key"))
        token = fake.issue_token()
        store.set("token:g", token)
        yield World(fake, folder, cfg, json.loads(token)["token"])


def _idealweek(*args: str) -> list[str]:
    return [sys.executable, "-m", "idealweek.cli", *args]


CPU: list[float] = []
"""CPU seconds (user + system) of each process :func:`_timed` ran, in order: independent of the machine's load."""


def _timed(cmd: list[str]) -> float:
    """Wall seconds of the process ``cmd``; its CPU seconds are appended to :data:`CPU`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=ENV, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])}… exited {done.returncode}: {done.stderr[-1500:]}")
    return elapsed


def _run_once(world: World) -> float:
    return _timed(_idealweek("run", "--once", "--quiet", "--log-format", "json", "--config", str(world.config)))


def _raw(world: World) -> float:
    from idealweek.retention import history_lookback

    since = datetime.now(UTC) - history_lookback(timedelta(days=7))
    stamp = since.isoformat().replace("+00:00", "Z")
    return _timed([sys.executable, "-c", RAW, world.fake.api_root, world.access, stamp, "primary", FAMILY])


def _spread(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3), "max": round(max(values), 3)}


# -- figures ---------------------------------------------------------------------------------------------------


def first_run(events: int = 10_000, rounds: int = 5) -> dict[str, Any]:
    """Whole-process first ``run --once`` against a whole-process raw download of the same pages, interleaved."""
    ours: list[float] = []
    raw: list[float] = []
    ours_cpu: list[float] = []
    raw_cpu: list[float] = []
    with google_world(events) as world:
        for i in range(rounds):
            world.fresh_state()
            if i % 2 == 0:
                raw.append(_raw(world))
                raw_cpu.append(CPU[-1])
                ours.append(_run_once(world))
                ours_cpu.append(CPU[-1])
            else:
                ours.append(_run_once(world))
                ours_cpu.append(CPU[-1])
                raw.append(_raw(world))
                raw_cpu.append(CPU[-1])
    ratios = [o / r for o, r in zip(ours, raw, strict=True)]
    med = statistics.median(ratios)
    return {
        "events": events,
        "rounds": rounds,
        "run_once_s": _spread(ours),
        "raw_download_parse_s": _spread(raw),
        "ratio": _spread(ratios),
        "cpu": {
            "run_once_s": _spread(ours_cpu),
            "raw_download_parse_s": _spread(raw_cpu),
            "ratio": _spread([o / r for o, r in zip(ours_cpu, raw_cpu, strict=True)]),
            "note": "CPU of each whole process (its own, not the fake server's): what the wall ratio is under no load",
        },
        "target_ratio": TARGETS["first_run_ratio"],
        "ok": med <= TARGETS["first_run_ratio"],
    }


def steady(sizes: tuple[int, ...] = (1_000, 10_000, 40_000), repeat: int = 5) -> dict[str, Any]:
    """``run --once`` with nothing changed (after a first run and one that reads back its own writes)."""
    out: dict[str, Any] = {}
    cpu: dict[str, Any] = {}
    for n in sizes:
        with google_world(n) as world:
            _run_once(world)
            _run_once(world)
            walls = [_run_once(world) for _ in range(repeat)]
            out[str(n)] = _spread(walls)
            cpu[str(n)] = _spread(CPU[-repeat:])
    medians = [v["median"] for v in out.values()]
    return {
        "wall_s": out,
        "cpu_s": cpu,
        "target_s": TARGETS["steady_s"],
        "flat": max(medians) <= 1.25 * min(medians) + 0.02,
        "ok": max(medians) <= TARGETS["steady_s"],
    }


_IMPORT = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def importtime(cmd: list[str], runs: int = 5) -> dict[str, Any]:
    """``-X importtime`` of ``cmd`` (idealweek arguments): the run with the least import time, by package.

    ``total_s`` is wall time and grows with the machine's load; ``cpu_s`` is the CPU time of importing the
    same modules, in the same order, in a fresh interpreter (best of ``runs``): what the imports cost.
    ``cpu_s`` imports the top-level modules plainly, so it does not reproduce submodules the run defers
    (``idealweek.lazymodule``): on the Google path it counts cryptography's certificates and google-auth's
    JWTs, which the run itself does not import.  ``total_s`` is the figure the target is about.
    """
    best: tuple[int, list[tuple[int, int, str]]] | None = None
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "idealweek.cli", *cmd],
            env=ENV,
            capture_output=True,
            text=True,
            check=False,
        )
        rows = [(int(m[1]), len(m[3]), m[4]) for m in map(_IMPORT.match, done.stderr.splitlines()) if m]
        total = sum(us for us, _, _ in rows)
        if best is None or total < best[0]:
            best = (total, rows)
    assert best is not None
    by: Counter[str] = Counter()
    for us, _, name in best[1]:
        by[name.split(".")[0]] += us
    top = [name for _, depth, name in best[1] if depth == 1 and name not in ("idealweek.cli", "encodings", "site")]
    script = (
        "import sys, time\n"
        "t = time.process_time()\n"
        f"for name in {top!r}:\n"
        "    try:\n        __import__(name)\n    except ImportError:\n        pass\n"
        "print(time.process_time() - t)\n"
    )
    cpu = min(
        float(subprocess.run([sys.executable, "-c", script], env=ENV, capture_output=True, text=True).stdout)
        for _ in range(runs)
    )
    return {
        "total_s": round(best[0] / 1e6, 3),
        "cpu_s": round(cpu, 3),
        "top_packages_ms": {k: round(v / 1000, 1) for k, v in by.most_common(12)},
        "heavy_loaded": sorted(k for k in HEAVY if by[k] > 300),
    }


HEAVY = {
    "rich",
    "icalendar",
    "recurring_ical_events",
    "googleapiclient",
    "httplib2",
    "google",
    "cryptography",
    "msal",
    "caldav",
    "apprise",
    "requests",
    "urllib3",
    "apscheduler",
    "pydantic",
}


def imports() -> dict[str, Any]:
    """Start-up imports of a steady ``run --once``: the demo (local calendars) and a Google config."""
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="idealweek-bench-") as tmp:
        work = Path(tmp)
        shutil.copytree(ROOT / "demo" / "calendars", work / "calendars")
        shutil.copy(ROOT / "demo" / "config.toml", work / "config.toml")
        args = ["run", "--once", "--quiet", "--log-format", "json", "--config", str(work / "config.toml")]
        subprocess.run(_idealweek(*args), env=ENV, capture_output=True, check=True)
        subprocess.run(_idealweek(*args), env=ENV, capture_output=True, check=True)
        out["demo"] = importtime(args)
    with google_world(1_000) as world:
        args = ["run", "--once", "--quiet", "--log-format", "json", "--config", str(world.config)]
        _run_once(world)
        _run_once(world)
        out["google"] = importtime(args)
    worst = max(v["total_s"] for v in out.values())
    return {**out, "target_s": TARGETS["imports_s"], "ok": worst <= TARGETS["imports_s"]}


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _cycles(log: Path) -> list[dict[str, Any]]:
    out = []
    for line in log.read_text().splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec.get("event") == "cycle":
            out.append(rec)
    return out


def _wait(what: str, until: Any, proc: subprocess.Popen[bytes], log: Path, timeout: float = 300) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = until()
        if got:
            return got
        if proc.poll() is not None:
            raise RuntimeError(f"the daemon exited with {proc.returncode}: {log.read_text()[-2000:]}")
        time.sleep(0.02)
    raise RuntimeError(f"{what}: not within {timeout} s")


@contextmanager
def daemon(world: World) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    log = world.folder / "daemon.log"
    with log.open("w") as fh:
        proc = subprocess.Popen(
            _idealweek("run", "--log-format", "json", "--config", str(world.config)),
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=ENV,
        )
        try:
            yield proc, log
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def _hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def daemon_rss(sizes: tuple[int, ...] = (10_000, 40_000), cycles: int = 6) -> dict[str, Any]:
    """RSS of the daemon (1 s interval) after ``cycles`` cycles: started on a fresh state (its first cycle is the
    full sync: ``rss_mb``, the figure against the target, and ``peak_mb``), then restarted on the state it filled
    (``restarted_rss_mb``: what a daemon restarted by systemd or a reboot holds)."""
    out: dict[str, Any] = {}
    for n in sizes:
        with google_world(n, interval="1s") as world:
            with daemon(world) as (proc, log):
                got = _wait("cycles", lambda log=log: len(_cycles(log)) >= cycles and _cycles(log), proc, log)
                fig = {"rss_mb": round(_rss_mb(proc.pid), 1), "peak_mb": round(_hwm_mb(proc.pid), 1)}
                fig["events_seen"] = got[-1]["events_seen"]
            with daemon(world) as (proc, log):
                _wait("cycles", lambda log=log: len(_cycles(log)) >= cycles, proc, log)
                fig["restarted_rss_mb"] = round(_rss_mb(proc.pid), 1)
            out[str(n)] = fig
    at40 = out.get("40000", {}).get("rss_mb")
    return {
        **out,
        "target_mb_at_40k": TARGETS["daemon_rss_mb_40k"],
        "ok": at40 is not None and at40 <= TARGETS["daemon_rss_mb_40k"],
    }


def _makeups(fake: GoogleFake) -> int:
    return sum(1 for e in fake.owned_events("primary") if str(e.get("summary", "")).startswith("Make-up"))


def latency(rounds: int = 3, events: int = 1_000) -> dict[str, Any]:
    """A meeting over the family block (17:00-19:00, catch-up) -> a make-up block on the calendar; 5 s interval."""
    interval = TARGETS["latency_interval_s"]
    seconds: list[float] = []
    with google_world(events, interval=f"{interval:g}s") as world, daemon(world) as (proc, log):
        fake = world.fake
        _wait("two cycles", lambda: len(_cycles(log)) >= 2, proc, log)
        me = {"email": fake.primary_id, "self": True, "responseStatus": "accepted"}
        boss = {"email": "boss@example.com", "organizer": True, "responseStatus": "accepted"}
        day = datetime.now(BERLIN).replace(hour=17, minute=15, second=0, microsecond=0) + timedelta(days=2)
        for _ in range(rounds):
            while day.weekday() >= 5:
                day += timedelta(days=1)
            before = _makeups(fake)
            # Just after a cycle ends: the worst case waits for the whole interval.
            seen = len(_cycles(log))
            _wait("a cycle", lambda seen=seen: len(_cycles(log)) > seen, proc, log)
            t0 = time.monotonic()
            fake.user_add("primary", "Late sync", day, day + timedelta(hours=1), attendees=[boss, me], organizer=boss)
            _wait("a make-up", lambda before=before: _makeups(fake) > before, proc, log, timeout=120)
            seconds.append(time.monotonic() - t0)
            day += timedelta(days=1)
    return {
        "interval_s": interval,
        "change_to_write_s": _spread(seconds),
        "target_s": interval,
        "ok": max(seconds) <= interval,
    }


def bench(quick: bool = False) -> dict[str, Any]:
    load0 = os.getloadavg()
    figures: dict[str, Any] = {
        "imports": imports(),
        "first_run": first_run(rounds=5),
        "steady": steady((1_000, 10_000) if quick else (1_000, 10_000, 40_000)),
        "daemon_rss": daemon_rss((10_000,) if quick else (10_000, 40_000)),
        "latency": latency(),
    }
    figures["load_average"] = {"start": [round(x, 2) for x in load0], "end": [round(x, 2) for x in os.getloadavg()]}
    figures["cpus"] = os.cpu_count()
    return figures


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, print its figures as JSON and return them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="skip the 40k sizes")
    parser.add_argument("--only", choices=["imports", "first_run", "steady", "daemon_rss", "latency"])
    args = parser.parse_args(argv if argv is not None else [])
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    if args.only == "daemon_rss" and args.quick:
        result = {"daemon_rss": daemon_rss((10_000,)), "load_average": list(os.getloadavg())}
    elif args.only:
        result = {args.only: globals()[args.only](), "load_average": list(os.getloadavg())}
    else:
        result = bench(args.quick)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
