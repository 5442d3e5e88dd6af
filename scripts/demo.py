"""`make demo`: a small gmm2d campaign on the defaults (SQLite + the shipped prior), then its report.

Runs 6 rounds of 16 (96 trials) with the task's own noisy oracle, stores everything in runs/demo.db and writes PNG
plots to runs/demo-report/. Each run starts the demo campaign afresh.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = ROOT / "runs"


def oboptim(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "oboptim", *args], check=True)


def main() -> None:
    RUNS.mkdir(exist_ok=True)
    db = RUNS / "demo.db"
    for leftover in RUNS.glob("demo.db*"):
        leftover.unlink()
    url = f"sqlite:///{db}"
    start = time.perf_counter()
    oboptim("run", "gmm2d", "--name", "demo", "--storage", url, "--budget", "96", "--batch-size", "16", "--seed", "0")
    seconds = time.perf_counter() - start
    oboptim("report", "demo", "--storage", url, "--out", str(RUNS / "demo-report"))
    oboptim("export", "demo", "--storage", url, "--out", str(RUNS / "demo.csv"))
    print(f"\ndemo finished in {seconds:.0f} s")
    print(f"history:  {db}  (oboptim status demo --storage {url})")
    print(f"report:   {RUNS / 'demo-report'}/*.png")
    print(f"export:   {RUNS / 'demo.csv'}")


if __name__ == "__main__":
    main()
