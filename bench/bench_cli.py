"""Wall time of `idealweek --help` (budget ≤ 0.5 s: heavy libraries are imported lazily)."""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def main() -> dict[str, object]:
    exe = shutil.which("idealweek", path=str(Path(sys.executable).parent)) or "idealweek"
    times = []
    for _ in range(7):
        t0 = time.perf_counter()
        subprocess.run([exe, "--help"], check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    result = {"help_wall_s": round(statistics.median(times), 3), "budget_s": 0.5}
    result["within_budget"] = result["help_wall_s"] <= 0.5
    print(json.dumps({"cli": result}))
    return result


if __name__ == "__main__":
    main()
