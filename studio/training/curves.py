"""Loss curves from ``log.jsonl`` files: a small JSON summary and a PNG plot (Pillow only)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

COLORS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189)]


def read_log(path: Path, key: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) sorted by step; a step logged twice (a run resumed from an earlier
    checkpoint) keeps its last value."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    by_step = {r["step"]: r[key] for r in rows if key in r}
    steps = np.array(sorted(by_step), dtype=int)
    return steps, np.array([by_step[s] for s in steps], dtype=float)


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over ``window`` points."""
    window = max(1, min(window, len(values)))
    cumulative = np.cumsum(np.insert(values, 0, 0.0))
    out = (cumulative[window:] - cumulative[:-window]) / window
    return np.concatenate([values[: window - 1].cumsum() / np.arange(1, window), out])


def summarize(steps: np.ndarray, values: np.ndarray, points: int = 100) -> dict:
    """Downsampled smoothed curve (for committing as small JSON)."""
    smoothed = smooth(values, max(1, len(values) // points))
    idx = np.linspace(0, len(values) - 1, min(points, len(values))).round().astype(int)
    return {"step": steps[idx].tolist(), "value": [round(float(v), 6) for v in smoothed[idx]],
            "final_mean_last_100": float(values[-100:].mean())}


def plot(series: dict[str, tuple[np.ndarray, np.ndarray]], out: Path, title: str) -> None:
    """Log-scale line plot of smoothed series (steps on x)."""
    width, height, margin = 640, 400, 50
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    logs = {k: (s, np.log10(np.maximum(smooth(v, max(1, len(v) // 100)), 1e-8)))
            for k, (s, v) in series.items()}
    ymin = min(v.min() for _, v in logs.values())
    ymax = max(v.max() for _, v in logs.values())
    xmax = max(s.max() for s, _ in logs.values())
    def to_xy(step: float, value: float) -> tuple[float, float]:
        x = margin + (width - 2 * margin) * step / max(xmax, 1)
        y = height - margin - (height - 2 * margin) * (value - ymin) / max(ymax - ymin, 1e-6)
        return x, y
    draw.rectangle([margin, margin, width - margin, height - margin], outline="black")
    for index, (name, (steps, values)) in enumerate(logs.items()):
        color = COLORS[index % len(COLORS)]
        draw.line([to_xy(s, v) for s, v in zip(steps, values, strict=True)], fill=color, width=2)
        draw.text((margin + 10, margin + 10 + 14 * index), name, fill=color)
    draw.text((margin, 15), f"{title} (log10 scale)", fill="black")
    draw.text((margin - 45, margin), f"{10**ymax:.3g}", fill="black")
    draw.text((margin - 45, height - margin - 10), f"{10**ymin:.3g}", fill="black")
    draw.text((width - margin - 40, height - margin + 10), f"step {int(xmax)}", fill="black")
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(out)


def write_curves(log: Path, keys: list[str], out_dir: Path, name: str) -> dict:
    """Write ``{name}_curve.json`` and ``{name}_curve.png`` for the given log keys."""
    series = {key: read_log(log, key) for key in keys}
    summary = {key: summarize(*series[key]) for key in keys}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{name}_curve.json").write_text(json.dumps(summary) + "\n")
    plot(series, out_dir / f"{name}_curve.png", name)
    return summary
