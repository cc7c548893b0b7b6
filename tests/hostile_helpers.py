"""Helpers for the hostile-input tests (issue #19).

`call_isolated` runs one call in a child Python with a memory cap and a timeout, so a defect
(a quadratic regex holding the GIL, a read of /dev/zero, a FIFO that blocks) fails its test
instead of hanging or exhausting the machine. The timeout is a hang guard, not a speed test:
the fixed code needs milliseconds.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
HANG_GUARD_S = 60.0
MEMORY_CAP = 4 * 1024**3

_CHILD = r"""
import importlib, json, resource, sys
cap = int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
module, name = sys.argv[1], sys.argv[2]
args = json.loads(sys.stdin.read())
try:
    value = getattr(importlib.import_module(module), name)(*args)
    out = {"ok": True, "value": value if isinstance(value, (dict, list, str, int, float, bool,
           type(None))) else repr(value)}
except BaseException as exc:
    out = {"ok": False, "type": type(exc).__name__, "message": str(exc),
           "mro": [c.__name__ for c in type(exc).__mro__]}
sys.stdout.write(json.dumps(out, default=repr))
"""


def call_isolated(target: str, *args: Any, timeout: float = HANG_GUARD_S) -> dict[str, Any]:
    """Call `module:function(*args)` (JSON-able args) in a child process.

    Returns {"ok": True, "value": ...} or {"ok": False, "type", "message", "mro"}; fails the
    test when the child hangs past `timeout` or dies.
    """
    module, name = target.split(":")
    command = [sys.executable, "-c", _CHILD, module, name, str(MEMORY_CAP)]
    try:
        done = subprocess.run(command, input=json.dumps(list(args)), capture_output=True,
                              text=True, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{target} still running after {timeout:.0f} s (hung or super-linear)")
    if done.returncode != 0 or not done.stdout:
        pytest.fail(f"{target} died (exit {done.returncode}): {done.stderr[-2000:]}")
    return json.loads(done.stdout)


def run_guarded(func: Callable[[], Any], timeout: float = HANG_GUARD_S) -> Any:
    """Run `func` in a daemon thread; fail instead of hanging when it blocks (e.g. in open()).

    Exceptions raised by `func` are re-raised here, so `pytest.raises` works around this call.
    """
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = func()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        pytest.fail(f"still running after {timeout:.0f} s (blocked)")
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")
