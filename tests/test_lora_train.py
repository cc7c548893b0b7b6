"""`studio train lora` on the tiny model: trains, saves a PEFT file the engine applies; CLI."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from studio.cli import main
from studio.core.requests import GenerateRequest
from studio.engine.control import JobControl
from studio.engine.device import plan_device
from studio.engine.pipelines import PipelineCache
from studio.engine.runner import GenerationRunner
from studio.training.lora import LoraTrainConfig, LoraTrainer, train_lora


@pytest.fixture(scope="module")
def squares(tmp_path_factory):
    """Eight magenta squares, half of them captioned."""
    folder = tmp_path_factory.mktemp("squares")
    for index in range(8):
        Image.new("RGB", (64, 64), (200, 20, 200)).save(folder / f"{index}.png")
        if index % 2:
            (folder / f"{index}.txt").write_text("magenta square")
    return folder


def _config(data, model, out, tmp_path, **extra) -> LoraTrainConfig:
    values = dict(data=str(data), model=str(model), out=str(out), steps=4, lr=0.05,
                  batch_size=2, caption="a square", work=str(tmp_path / "run"), device="cpu")
    values.update(extra)
    return LoraTrainConfig(**values)


def _pixels(runner, model, prompt) -> np.ndarray:
    request = GenerateRequest(model_path=str(model), prompt=prompt, steps=3, width=64,
                              height=64, seed=5)
    return np.asarray(runner.run_one(request, JobControl()).image).astype(int)


def test_a_trained_lora_loads_through_the_engine_and_changes_pixels(
        squares, tiny_model_dir, tmp_path, monkeypatch):
    out = tmp_path / "loras" / "magenta.safetensors"
    path, losses = train_lora(_config(squares, tiny_model_dir, out, tmp_path))
    assert path == out and len(losses) == 4 and all(map(math.isfinite, losses))
    state = load_file(str(out))
    assert state and all(k.startswith("unet.") for k in state)
    assert {k.rsplit(".", 2)[-2] for k in state} == {"lora_A", "lora_B"}
    assert any(".attn2.to_k." in k for k in state) and any(".to_out.0." in k for k in state)
    assert any(v.abs().max() > 0 for k, v in state.items() if "lora_B" in k)  # it learned
    monkeypatch.setenv("STUDIO_LORAS", str(out.parent))
    runner = GenerationRunner(PipelineCache(plan_device("cpu")), max_preview_fps=0)
    plain = _pixels(runner, tiny_model_dir, "magenta square")
    with_lora = _pixels(runner, tiny_model_dir, "magenta square <lora:magenta:1>")
    assert np.abs(with_lora - plain).max() > 0
    assert np.array_equal(_pixels(runner, tiny_model_dir, "magenta square"), plain)


def test_only_the_adapters_train_and_captions_fall_back(squares, tiny_model_dir, tmp_path):
    trainer = LoraTrainer(_config(squares, tiny_model_dir, tmp_path / "x.safetensors", tmp_path,
                                  text_encoder=True, rank=2))
    assert trainer.captions == ["a square", "magenta square"] * 4
    names = [n for n, p in [*trainer.unet.named_parameters(),
                            *trainer.text_encoder.named_parameters()] if p.requires_grad]
    assert names and all("lora_" in n for n in names)
    base = {n: p.clone() for n, p in trainer.unet.named_parameters() if "lora_" not in n}
    trainer.train()
    assert all(torch.equal(p, base[n]) for n, p in trainer.unet.named_parameters()
               if "lora_" not in n)
    state = load_file(str(tmp_path / "x.safetensors"))
    assert any(k.startswith("text_encoder.") and "q_proj.lora_A" in k for k in state)
    assert all(v.shape[0] == 2 for k, v in state.items() if "lora_A" in k)


def test_cli_trains_a_lora(squares, tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "cli.safetensors"
    assert main(["train", "lora", "--data", str(squares), "--model", str(tiny_model_dir),
                 "--out", str(out), "--steps", "2", "--batch-size", "2",
                 "--work", str(tmp_path / "w"), "--device", "cpu"]) == 0
    assert out.is_file() and "<lora:cli:1>" in capsys.readouterr().out
    assert (tmp_path / "w" / "log.jsonl").read_text().count("\n") == 2


@pytest.mark.parametrize(("extra", "fragment"), [
    ([], "required: --data, --out"),
    (["--data", "DATA", "--out", "x.pt"], "must be a .safetensors file"),
    (["--data", "/nonexistent/folder", "--out", "x.safetensors"], "not a folder"),
    (["--data", "DATA", "--out", "x.safetensors", "--steps", "0"], "must be above 0"),
    (["--data", "DATA", "--out", "x.safetensors", "--rank", "two"], "invalid int value"),
    (["--data", "DATA", "--out", "x.safetensors", "--lr", "-1"], "must be above 0"),
    (["--data", "DATA", "--out", "x.safetensors", "--device", "tpu"], "invalid choice"),
])
def test_cli_rejects_bad_arguments_with_exit_2(squares, extra, fragment, capsys):
    argv = ["train", "lora", *(str(squares) if a == "DATA" else a for a in extra)]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "usage: studio train lora" in err and fragment in err


def test_a_v_prediction_model_is_refused(squares, tiny_model_dir, tmp_path, capsys):
    import shutil

    model = tmp_path / "vpred"
    shutil.copytree(tiny_model_dir, model)
    config = model / "scheduler" / "scheduler_config.json"
    config.write_text(json.dumps(json.loads(config.read_text()) | {
        "prediction_type": "v_prediction"}))
    assert main(["train", "lora", "--data", str(squares), "--model", str(model), "--steps", "2",
                 "--out", str(tmp_path / "v.safetensors")]) == 1
    assert "v_prediction" in capsys.readouterr().err
    assert not (tmp_path / "v.safetensors").exists()


def test_studio_help_still_imports_no_torch():
    code = ("import sys; from studio.cli import build_parser; build_parser().parse_args("
            "['train', 'lora', '--help'])")
    done = subprocess.run([sys.executable, "-c", code + "\n"], capture_output=True, text=True)
    assert "--rank" in done.stdout
    check = ("import sys\nfrom studio.cli import build_parser\n"
             "try:\n build_parser().parse_args(['train', 'lora', '--help'])\n"
             "except SystemExit:\n pass\nprint('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert done.stdout.strip().endswith("False")


def test_cli_never_replaces_an_existing_lora_unless_asked(squares, tmp_path, capsys):
    out = tmp_path / "ink.safetensors"
    out.write_bytes(b"an earlier LoRA")
    code = main(["train", "lora", "--data", str(squares), "--out", str(out), "--steps", "1"])
    assert code == 2 and out.read_bytes() == b"an earlier LoRA"
    err = capsys.readouterr().err
    assert "exists; choose another --out or add --overwrite" in err and "Traceback" not in err
