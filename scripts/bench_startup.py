"""Wall time of the commands a lab types between measurements: status, tell, export, tasks (and ask, run for scale).

Each command runs as a fresh process (`python -m oboptim ...`, as a user would start it) on a campaign of 64 scored
trials in a SQLite file; the table gives the median and the spread over repeats, and which heavy modules the
command imported. The target for the reading and telling commands is under 0.5 s.

Usage: python scripts/bench_startup.py [--repeats 7] [--out bench/startup.md]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TASK = f"{ROOT / 'tests' / 'campaign' / 'mixture_task.py'}:TASK"
HEAVY = ("torch", "diffusers", "botorch", "transformers", "sqlalchemy", "numpy")
PROBE = ("import runpy, sys, json\n"
         "try:\n    runpy.run_module('oboptim', run_name='__main__', alter_sys=True)\n"
         "except SystemExit:\n    pass\n"
         f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]), file=sys.stderr)\n")


def timed(args: list[str]) -> tuple[float, list[str]]:
    """Seconds of one fresh `python -m oboptim ARGS` process, and the heavy modules it imported."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {done.stderr.strip()}")
    return seconds, json.loads(done.stderr.strip().splitlines()[-1])


# What any command pays before oboptim runs, measured in the same run so that a slow machine shows as slow floors.
FLOORS = {"floor: python -c pass": "pass", "floor: python -c 'import sqlalchemy'": "import sqlalchemy"}


def timed_code(code: str) -> float:
    """Seconds of one fresh `python -c CODE` process."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "startup.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/lab.db"
        setup = subprocess.run([sys.executable, "-m", "oboptim", "run", TASK, "--name", "lab", "--storage", url,
                                "--budget", "64", "--quiet"], capture_output=True, text=True)
        assert setup.returncode == 0, setup.stderr
        asked = subprocess.run([sys.executable, "-m", "oboptim", "ask", "lab", "-n", str(args.repeats),
                                "--storage", url], capture_output=True, text=True, check=True).stdout
        trial_ids = [json.loads(line)["trial_id"] for line in asked.splitlines()]
        commands = {
            "status": [["status", "lab", "--storage", url]] * args.repeats,
            "tell": [["tell", "lab", str(i), "-1.5", "--storage", url] for i in trial_ids],
            "export": [["export", "lab", "--storage", url]] * args.repeats,
            "tasks": [["tasks"]] * args.repeats,
            "--help": [["--help"]] * args.repeats,
            "ask -n 1 (proposes: loads the task)": [["ask", "lab", "-n", "1", "--storage", url]] * 3,
        }
        rows = []
        for label, code in FLOORS.items():
            seconds = [timed_code(code) for _ in range(args.repeats)]
            rows.append((label, statistics.median(seconds), min(seconds), max(seconds), []))
            print(f"{label:40s} median {rows[-1][1]:.3f} s", flush=True)
        for label, runs in commands.items():
            results = [timed(run) for run in runs]
            seconds = [s for s, _ in results]
            rows.append((label, statistics.median(seconds), min(seconds), max(seconds), results[-1][1]))
            print(f"{label:40s} median {rows[-1][1]:.3f} s", flush=True)
    lines = ["# Start-up time of the commands", "",
             f"`python scripts/bench_startup.py --repeats {args.repeats}`: each command is a fresh process on a "
             "campaign of 64 scored trials (SQLite). Target for status, tell, export and tasks: under 0.5 s. "
             "The floors are what a bare interpreter and the storage layer's import cost on this machine in the same "
             "run.", "",
             "| command | median s | min s | max s | heavy modules imported |", "|---|---|---|---|---|"]
    lines += [f"| `{label}` | {median:.3f} | {low:.3f} | {high:.3f} | {', '.join(mods) or '-'} |"
              for label, median, low, high, mods in rows]
    args.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
