"""`make demo`: run idealweek's main job twice on a scratch copy of the demo calendars.

The repository's files stay untouched: everything is copied to ./demo-run first.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUN = HERE.parent / "demo-run"


def main() -> int:
    if RUN.exists():
        shutil.rmtree(RUN)
    shutil.copytree(HERE / "calendars", RUN / "calendars")
    shutil.copy(HERE / "config.toml", RUN / "config.toml")
    exe = Path(sys.executable).with_name("idealweek")
    cmd = [str(exe), "run", "--once", "--config", str(RUN / "config.toml"), "--log-level", "warning"]
    print("=" * 78)
    print(f"idealweek demo — local calendars copied to {RUN}")
    print("First cycle: reads the calendars, plans the week, writes blocks, make-ups, focus and mirrors.")
    print("=" * 78)
    first = subprocess.run(cmd, check=False)
    if first.returncode != 0:
        return first.returncode
    print("=" * 78)
    print("Second cycle on the same data: nothing changed, so nothing is written.")
    print("=" * 78)
    second = subprocess.run([*cmd, "--quiet"], check=False)
    written = sorted(p.name for p in (RUN / "calendars" / "home").glob("*.ics"))
    mirrors = [p for p in (RUN / "calendars" / "work").glob("iw*.ics")]
    print()
    print(
        f"Files idealweek wrote: {len(written)} in calendars/home (blocks, make-ups), "
        f"{len(mirrors)} in calendars/work (focus, mirrors)."
    )
    return second.returncode


if __name__ == "__main__":
    sys.exit(main())
