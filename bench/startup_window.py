"""Probe for bench/startup.py: time to a window shown, in a fresh process (offscreen Qt).

    python bench/startup_window.py bare|studio

Prints one JSON line: {"mode", "shown_s"} (seconds from the top of this script to the window
shown and its first events processed) or {"mode", "error"} when the window cannot be built.
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


def _studio(scratch: Path) -> tuple[object, object]:
    from studio.engine.device import configure_process_env

    configure_process_env()
    from PySide6.QtWidgets import QApplication

    from studio.app import apply_style, build_app, config_from_env

    app = QApplication(sys.argv[:1])
    apply_style(app)
    config = config_from_env()
    config.outputs_root = scratch / "outputs"
    config.data_dir = scratch / "data"
    built = build_app(config)
    window, engine = built if isinstance(built, tuple) else (built, None)
    window.show()
    app.processEvents()
    return window, engine


def main() -> int:
    mode = sys.argv[1] if len(sys.argv) > 1 else "bare"
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory(prefix="studio-startup-") as scratch:
        os.environ["STUDIO_DATA"] = str(Path(scratch) / "data")
        try:
            if mode == "bare":
                _bare()
                engine = None
            else:
                _, engine = _studio(Path(scratch))
            shown = time.perf_counter() - START
        except Exception as exc:  # the window is being refactored: report, do not crash
            print(json.dumps({"mode": mode, "error": f"{type(exc).__name__}: {exc}"}))
            return 1
        print(json.dumps({"mode": mode, "shown_s": round(shown, 4)}), flush=True)
        shutdown = getattr(engine, "shutdown", None)
        if callable(shutdown):
            shutdown(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
