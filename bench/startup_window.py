"""Probe for bench/startup.py: time to a window shown, in a fresh process (offscreen Qt).

    python bench/startup_window.py bare|studio

Prints one JSON line: {"mode", "shown_s"} (seconds from the top of this script to the window
shown and painted: the bare window's first events processed, the studio's frame painted),
for the studio also "ready_s" (the whole studio built inside the frame: every tab, the
docks, the backend started), or {"mode", "error"} when the window cannot be built.
"""

from __future__ import annotations

import time

START = time.perf_counter()

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _bare() -> object:
    from PySide6.QtWidgets import QApplication, QMainWindow

    app = QApplication(sys.argv[:1])
    window = QMainWindow()
    window.show()
    app.processEvents()
    return window


def _studio(scratch: Path) -> dict:
    """The path `studio` takes (run_gui): the frame shown, then the studio built into it."""
    from studio.engine.device import configure_process_env

    configure_process_env()
    from PySide6.QtCore import QSettings

    from studio.app import config_from_env, launch_gui, make_application

    app = make_application(sys.argv[:1])
    config = config_from_env()
    config.outputs_root = scratch / "outputs"
    config.data_dir = scratch / "data"
    times: dict = {}
    qsettings = QSettings(str(scratch / "settings.ini"), QSettings.Format.IniFormat)

    def ready(launch) -> None:  # noqa: ANN001
        times["ready_s"] = time.perf_counter() - START
        times["launch"] = launch
        app.quit()

    launch = launch_gui(config, qsettings, ready)
    launch.frame.first_painted.connect(
        lambda: times.setdefault("shown_s", time.perf_counter() - START))
    app.exec()
    if launch.error:
        raise RuntimeError(launch.error)
    return times


def main() -> int:
    mode = sys.argv[1] if len(sys.argv) > 1 else "bare"
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory(prefix="studio-startup-") as scratch:
        os.environ["STUDIO_DATA"] = str(Path(scratch) / "data")
        try:
            if mode == "bare":
                _bare()
                times = {"shown_s": time.perf_counter() - START}
            else:
                times = _studio(Path(scratch))
        except Exception as exc:  # the window is being refactored: report, do not crash
            print(json.dumps({"mode": mode, "error": f"{type(exc).__name__}: {exc}"}))
            return 1
        launch = times.pop("launch", None)
        print(json.dumps({"mode": mode, **{k: round(v, 4) for k, v in times.items()}}),
              flush=True)
        if launch is not None and launch.backend is not None:
            launch.backend.shutdown(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
