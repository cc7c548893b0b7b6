"""Start-up bench: how long the CLI and the GUI take to answer, in fresh processes.

    .venv/bin/python bench/startup.py [--runs 5]

Measures side by side, each the median of `--runs` fresh subprocesses:
`studio --help` (goal <= 1.0 s), `studio generate --steps abc --output x.png` rejected
(goal <= 1.0 s), `python -c "import torch"` for reference, and the time to the main window
shown vs a bare QMainWindow in the same interpreter (offscreen Qt; goal <= 1.5x).
Prints a table and writes bench/results/startup.json. A window that cannot be built is
recorded as an error (the main window may be mid-refactor) and the bench goes on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "startup.json"
WINDOW_PROBE = ROOT / "bench" / "startup_window.py"
GOALS = {"studio --help": 1.0, "generate --steps abc (rejected)": 1.0}


def _studio_command() -> list[str]:
    script = Path(sys.executable).with_name("studio")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "studio"]


def _env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), QT_QPA_PLATFORM="offscreen")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def time_command(argv: list[str], runs: int, expect_rc: int | None) -> dict:
    """Median wall time of `argv` over `runs` fresh processes (plus one untimed warm-up)."""
    times: list[float] = []
    rc = None
    for index in range(runs + 1):
        start = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, env=_env(), cwd=ROOT,
                              timeout=300)
        elapsed = time.perf_counter() - start
        rc = done.returncode
        if expect_rc is not None and rc != expect_rc:
            return {"error": f"exit {rc}: {done.stderr.strip()[-300:]}"}
        if index:  # the first run only warms the file cache
            times.append(elapsed)
    return {"median_s": round(statistics.median(times), 3), "runs": [round(t, 3) for t in times],
            "exit_code": rc}


def time_window(mode: str, runs: int) -> dict:
    """Median time to `mode`'s window shown (bare or studio), measured inside the probe."""
    shown: list[float] = []
    for index in range(runs + 1):
        done = subprocess.run([sys.executable, str(WINDOW_PROBE), mode], capture_output=True,
                              text=True, env=_env(), cwd=ROOT, timeout=300)
        lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
        report = json.loads(lines[-1]) if lines else {"error": done.stderr.strip()[-500:]}
        if "error" in report:
            return {"error": report["error"] or f"exit {done.returncode}"}
        if index:
            shown.append(report["shown_s"])
    return {"median_s": round(statistics.median(shown), 3), "runs": shown}


def measure(runs: int) -> dict[str, dict]:
    studio = _studio_command()
    rows = {
        "studio --help": time_command([*studio, "--help"], runs, 0),
        "generate --steps abc (rejected)": time_command(
            [*studio, "generate", "--steps", "abc", "--output", "x.png"], runs, 2),
        "python -c 'import torch' (reference)": time_command(
            [sys.executable, "-c", "import torch"], runs, 0),
        "bare QMainWindow shown": time_window("bare", runs),
        "studio main window shown": time_window("studio", runs),
    }
    bare, main = rows["bare QMainWindow shown"], rows["studio main window shown"]
    if "median_s" in bare and "median_s" in main:
        main["vs_bare"] = round(main["median_s"] / bare["median_s"], 2)
        main["goal_vs_bare"] = 1.5
    for name, goal in GOALS.items():
        rows[name]["goal_s"] = goal
    return rows


def print_table(rows: dict[str, dict]) -> None:
    print(f"{'measurement':40s} {'median':>9s} {'goal':>9s}")
    for name, row in rows.items():
        if "error" in row:
            print(f"{name:40s} {'error':>9s}  {row['error'][:80]}")
            continue
        goal = (f"<= {row['goal_s']:.1f} s" if "goal_s" in row
                else f"<= {row['goal_vs_bare']}x" if "goal_vs_bare" in row else "")
        extra = f"  ({row['vs_bare']}x bare)" if "vs_bare" in row else ""
        print(f"{name:40s} {row['median_s']:8.3f}s {goal:>9s}{extra}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per measurement")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    rows = measure(max(1, args.runs))
    print_table(rows)
    report = {"runs_each": args.runs, "python": platform.python_version(),
              "cpu_count": os.cpu_count(), "studio_command": " ".join(_studio_command()),
              "results": rows}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
