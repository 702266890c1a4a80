"""Run every benchmark in bench/ and print one JSON document of figures.

Speed and memory are measured here, never by timed assertions in tests.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MODULES = [
    "bench_planner",
    "bench_cli",
    "bench_google",
    "bench_outlook",
    "bench_caldav",
    "bench_daemon",
    "bench_ics",
    "bench_household",
    "bench_start",
]


def main() -> int:
    figures: dict[str, object] = {}
    for name in MODULES:
        try:
            mod = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"bench.{name}":
                figures[name] = "not present"
                continue
            raise
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            try:
                result = mod.main()
            except SystemExit as exc:  # a module run as a script may exit with its verdict
                result = exc.code
        if not isinstance(result, dict):
            text = buf.getvalue().strip()
            try:
                result = json.loads(text)
            except ValueError:
                result = {"output": text, "returned": result}
        figures[name] = result
    print(json.dumps(figures, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
