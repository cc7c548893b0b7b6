"""bench/gpu.py: skips clearly without CUDA; its code path runs (tiny UNet, CPU smoke mode)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parent.parent / "bench" / "gpu.py"


def _load():  # noqa: ANN202
    spec = importlib.util.spec_from_file_location("bench_gpu", BENCH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_without_cuda_it_says_skipped(monkeypatch, capsys) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert _load().main([]) == 0
    assert "no CUDA device; skipped" in capsys.readouterr().out


@pytest.mark.parametrize("model", ["sd15", "sdxl"])
def test_smoke_mode_measures_every_column(model: str, capsys) -> None:
    assert _load().main(["--smoke", "--steps", "1", "--models", model]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{model} 64²: raw diffusers") and "with previews" in out
