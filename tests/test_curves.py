from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from studio.training.curves import read_log, write_curves


def test_resumed_log_keeps_the_last_value_per_step_and_writes_curves(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    rows = [{"step": s, "loss": 1.0 / s} for s in range(1, 11)]
    rows += [{"step": s, "loss": 0.5 / s} for s in range(8, 13)]  # resumed at step 7
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    steps, values = read_log(log, "loss")
    assert steps.tolist() == list(range(1, 13))
    assert values[7] == 0.5 / 8 and values[6] == 1.0 / 7
    summary = write_curves(log, ["loss"], tmp_path / "out", "run")
    assert summary["loss"]["step"][-1] == 12
    assert np.isclose(summary["loss"]["final_mean_last_100"], values.mean())
    assert Image.open(tmp_path / "out" / "run_curve.png").size == (640, 400)
