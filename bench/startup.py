"""Start-up bench: how long the CLI and the GUI take to answer, in fresh processes.

    .venv/bin/python bench/startup.py [--runs 5]

Measures side by side, each the median of `--runs` fresh subprocesses:
`studio --help` (goal <= 1.0 s), `studio generate --steps abc --output x.png` rejected
(goal <= 1.0 s), `python -c "import torch"` for reference, and the time to the main window
shown vs a bare QMainWindow in the same interpreter (offscreen Qt; goal <= 1.5x). The studio
is started as `studio` starts it (`launch_gui`): its window frame paints first and the
studio is built into it; the time until every tab is built is reported beside ("ready").
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


def _probe(mode: str) -> dict:
    done = subprocess.run([sys.executable, str(WINDOW_PROBE), mode], capture_output=True,
                          text=True, env=_env(), cwd=ROOT, timeout=300)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    report = json.loads(lines[-1]) if lines else {"error": done.stderr.strip()[-500:]}
    if "error" in report and not report["error"]:
        report["error"] = f"exit {done.returncode}"
    return report


def _median_row(values: list[float]) -> dict:
    return {"median_s": round(statistics.median(values), 3), "runs": values}


def time_windows(runs: int) -> dict[str, dict]:
    """Time to the bare and the studio window shown (and the studio ready), measured inside
    the probe; the two alternate run by run so that a change of load hits both alike."""
    times: dict[str, list[float]] = {"bare": [], "studio": [], "ready": []}
    for index in range(runs + 1):
        for mode in ("bare", "studio"):
            report = _probe(mode)
            if "error" in report:
                return {f"{mode} window": {"error": report["error"]}}
            if index:  # the first round only warms the file cache
                times[mode].append(report["shown_s"])
                if "ready_s" in report:
                    times["ready"].append(report["ready_s"])
    bare, main = _median_row(times["bare"]), _median_row(times["studio"])
    main.update(vs_bare=round(main["median_s"] / bare["median_s"], 2), goal_vs_bare=1.5)
    ready = _median_row(times["ready"])
    ready["vs_bare"] = round(ready["median_s"] / bare["median_s"], 2)
    return {"bare QMainWindow shown": bare, "studio main window shown": main,
            "studio ready (every tab built)": ready}


def measure(runs: int) -> dict[str, dict]:
    studio = _studio_command()
    rows = {
        "studio --help": time_command([*studio, "--help"], runs, 0),
        "generate --steps abc (rejected)": time_command(
            [*studio, "generate", "--steps", "abc", "--output", "x.png"], runs, 2),
        "python -c 'import torch' (reference)": time_command(
            [sys.executable, "-c", "import torch"], runs, 0),
    }
    rows.update(time_windows(runs))
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
