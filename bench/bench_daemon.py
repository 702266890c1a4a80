"""Daemon benchmark: idle RSS after 10 cycles (budget ≤ 120 MB) and CPU time per steady cycle.

Runs ``idealweek run`` as a subprocess on a scratch copy of the demo calendars
with a 1 s sync interval, reads ``/proc/<pid>/status`` (VmRSS) and
``/proc/<pid>/stat`` (utime + stime), and prints one JSON object.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RSS_BUDGET_MB = 120.0
CYCLES = 10
WARM_UP = 3


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


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


def _wait_cycles(log: Path, n: int, proc: subprocess.Popen[bytes], timeout: float = 120) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = _cycles(log)
        if len(got) >= n:
            return got
        if proc.poll() is not None:
            raise RuntimeError(f"the daemon exited with {proc.returncode}: {log.read_text()[-2000:]}")
        time.sleep(0.02)
    raise RuntimeError(f"fewer than {n} cycles in {timeout} s")


def measure() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="idealweek-bench-") as tmp:
        work = Path(tmp)
        shutil.copytree(ROOT / "demo" / "calendars", work / "calendars")
        text = (ROOT / "demo" / "config.toml").read_text()
        text = text.replace('horizon = "14d"\n', 'horizon = "14d"\nsync_interval = "1s"\n', 1)
        (work / "config.toml").write_text(text)
        log = work / "daemon.log"
        with log.open("w") as fh:
            proc = subprocess.Popen(
                [sys.executable, "-m", "idealweek.cli", "run", "--config", str(work / "config.toml")],
                stdout=fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
            try:
                _wait_cycles(log, WARM_UP, proc)
                cpu0, t0 = _cpu_s(proc.pid), time.monotonic()
                cycles = _wait_cycles(log, CYCLES, proc)
                cpu1, t1 = _cpu_s(proc.pid), time.monotonic()
                rss = _rss_mb(proc.pid)
                proc.send_signal(signal.SIGTERM)
                rc = proc.wait(30)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        steady = cycles[WARM_UP:CYCLES]
        n = len(steady)
        return {
            "benchmark": "daemon",
            "cycles": len(cycles),
            "events_per_cycle": steady[-1]["events_seen"] if steady else None,
            "idle_rss_mb": round(rss, 1),
            "rss_budget_mb": RSS_BUDGET_MB,
            "rss_ok": rss <= RSS_BUDGET_MB,
            "cpu_ms_per_steady_cycle": round((cpu1 - cpu0) * 1000 / max(n, 1), 1),
            "steady_cycle_duration_ms_median": statistics.median(c["duration_ms"] for c in steady) if steady else None,
            "steady_cycle_api_requests": steady[-1]["api_requests"] if steady else None,
            "steady_cycle_writes": sum(int(c["writes"]) for c in steady),
            "wall_s_for_steady_cycles": round(t1 - t0, 2),
            "exit_code_after_sigterm": rc,
        }


def main() -> int:
    result = measure()
    print(json.dumps(result, indent=2))
    return 0 if result["rss_ok"] and result["exit_code_after_sigterm"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
