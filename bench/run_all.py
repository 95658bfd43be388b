"""Every benchmark in one command; results in bench/RESULTS.md (latency, framing) and
bench/RESULTS-load.md (concurrency). The 30-minute soak is separate: bench/soak.py.

    .venv/bin/python bench/run_all.py

Run it on an otherwise idle machine: the benchmarks share its cores with the processes they start.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
STEPS = (
    ["bench_gateway.py"],
    ["bench_framing.py", "--out", str(BENCH / "RESULTS.md")],
    ["bench_concurrency.py"],
    ["bench_reqlog.py", "--out", str(BENCH / "RESULTS.md")],
    ["bench_dashboard.py", "--out", str(BENCH / "RESULTS.md")],
)


def main() -> int:
    for step in STEPS:
        print(f"== {' '.join(step)}", flush=True)
        result = subprocess.run(
            [sys.executable, str(BENCH / step[0]), *step[1:]], cwd=BENCH.parent, check=False
        )
        if result.returncode != 0:
            return result.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
