"""Mask painting speed on a large image: stroke-event handling and repaint times.

Run: .venv/bin/python bench/brush_bench.py [--size 4096]
Prints the numbers and writes bench/results/brush.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QImage  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from studio.ui.canvas import ImageCanvas  # noqa: E402
from studio.ui.mask_layer import MaskLayer  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def run(size: int, radius: float, zoom: float) -> dict:
    app = QApplication.instance() or QApplication([])
    canvas = ImageCanvas()
    canvas.resize(1200, 900)
    canvas.show()
    image = QImage(size, size, QImage.Format.Format_RGB888)
    image.fill(Qt.GlobalColor.darkCyan)
    canvas.set_image(image)
    canvas.mask = MaskLayer(size, size)
    canvas.painting = True
    canvas.set_brush_radius(radius)
    if zoom:
        canvas.zoom_by(zoom / canvas.zoom)
    app.processEvents()
    handle_ms, paint_ms = [], []
    start = canvas.image_to_widget(QPointF(size * 0.3, size * 0.3))
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     QPoint(round(start.x()), round(start.y())))
    for i in range(300):
        x = start.x() + 400 * (i / 300) + 30 * ((i % 7) - 3)
        y = start.y() + 300 * (i / 300)
        t0 = time.perf_counter()
        QTest.mouseMove(canvas, QPoint(round(x), round(y)))
        t1 = time.perf_counter()
        canvas.repaint()
        t2 = time.perf_counter()
        handle_ms.append((t1 - t0) * 1000)
        paint_ms.append((t2 - t1) * 1000)
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton)
    return {
        "image": f"{size}x{size}", "brush_radius_px": radius, "zoom": round(canvas.zoom, 3),
        "stroke_event_ms_p50": statistics.median(handle_ms),
        "stroke_event_ms_p99": percentile(handle_ms, 0.99),
        "repaint_ms_p50": statistics.median(paint_ms),
        "repaint_ms_p99": percentile(paint_ms, 0.99),
        "undo_bytes_after_stroke": canvas.mask.undo_bytes,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "brush.json")
    args = parser.parse_args()
    results = [run(args.size, 40, 0), run(args.size, 40, 1.0), run(args.size, 200, 0)]
    print(json.dumps(results, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
