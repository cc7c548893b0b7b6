"""Issue #19: a training checkpoint is loaded weights-only, so a crafted one cannot run code."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from studio.training.common import CheckpointError, load_checkpoint, save_checkpoint
from studio.training.trainer import TrainConfig, Trainer
from tests.hostile_helpers import run_guarded
from tests.test_training import tiny_config as training_config
from tests.test_training import tiny_data  # noqa: F401 - the fixture


class _Exec:
    """Unpickling this runs `exec(code)`."""

    def __init__(self, code: str) -> None:
        self.code = code

    def __reduce__(self) -> tuple:
        return (exec, (self.code,))


class _System:
    """Unpickling this runs a shell command."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple:
        return (os.system, (self.command,))


class _Popen:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (subprocess.call, (["touch", str(self.marker)],))


def _payloads(marker: Path) -> dict[str, object]:
    write = f"open({str(marker)!r}, 'w').write('pwned')"
    return {
        "exec-in-config": {"step": 1, "config": _Exec(write)},
        "os-system-top-level": _System(f"touch '{marker}'"),
        "subprocess-in-state": {"step": 1, "unet": {"w": _Popen(marker)}},
        "exec-beside-tensors": {"step": 1, "unet": {"w": torch.zeros(2)}, "x": [_Exec(write)]},
    }


def _evil_checkpoint(folder: Path, marker: Path, kind: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "checkpoint.pt"
    torch.save(_payloads(marker)[kind], path)  # what an attacker would ship
    return path


def tiny_config(data: Path, out: Path, **overrides: object) -> TrainConfig:
    """test_training's tiny run, 2 steps of batch 4 unless told otherwise."""
    return training_config(data, out, **{"batch_size": 4, "max_steps": 2, **overrides})


KINDS = ["exec-in-config", "os-system-top-level", "subprocess-in-state", "exec-beside-tensors"]


@pytest.mark.parametrize("kind", KINDS)
def test_load_checkpoint_refuses_code(tmp_path: Path, kind: str) -> None:
    marker = tmp_path / "marker"
    path = _evil_checkpoint(tmp_path / "run", marker, kind)
    with pytest.raises(CheckpointError, match="refused: it references .*could run code") as info:
        load_checkpoint(path)
    assert "\n" not in str(info.value) and "weights_only" not in str(info.value)
    assert not marker.exists()


@pytest.mark.parametrize("kind", KINDS)
def test_resume_refuses_a_crafted_checkpoint(
        tiny_data: Path, tmp_path: Path, kind: str) -> None:  # noqa: F811 - test_training's fixture
    marker = tmp_path / "marker"
    _evil_checkpoint(tmp_path / "run", marker, kind)
    trainer = Trainer(tiny_config(tiny_data, tmp_path / "run"))
    with pytest.raises(CheckpointError, match="refused"):
        trainer.resume()
    assert not marker.exists() and trainer.step == 0


@pytest.mark.parametrize("kind", KINDS)
def test_cli_export_refuses_a_crafted_checkpoint(tmp_path: Path, kind: str, capsys) -> None:
    from studio.cli import main

    marker = tmp_path / "marker"
    _evil_checkpoint(tmp_path / "run", marker, kind)
    assert main(["train", "export", "--run", str(tmp_path / "run"),
                 "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("studio: error:") and "refused" in err and err.count("\n") == 1
    assert not marker.exists() and not (tmp_path / "o").exists()


@pytest.mark.parametrize(("content", "message"), [
    (b"", "not a readable checkpoint"),
    (b"not a zip or a pickle", "not a readable"),
    (b"\x80\x02}q\x00.", "not a readable"),
    (b"PK\x03\x04" + b"\0" * 64, "not a readable checkpoint"),
])
def test_garbage_checkpoints_are_clear_errors(tmp_path: Path, content: bytes, message: str
                                              ) -> None:
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)


def test_a_checkpoint_that_is_not_a_dict_is_refused(tmp_path: Path) -> None:
    torch.save([torch.zeros(1)], tmp_path / "checkpoint.pt")
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        load_checkpoint(tmp_path / "checkpoint.pt")


def test_a_fifo_checkpoint_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "checkpoint.pt")
    with pytest.raises(CheckpointError, match="FIFO"):
        run_guarded(lambda: load_checkpoint(tmp_path / "checkpoint.pt"), timeout=30)


def test_export_without_a_checkpoint_says_so(tmp_path: Path) -> None:
    from studio.training.export import export_checkpoint

    (tmp_path / "run").mkdir()
    with pytest.raises(CheckpointError, match="no checkpoint.pt"):
        export_checkpoint(tmp_path / "run", tmp_path / "out")


@pytest.mark.parametrize("config", [None, "x", {"no_such_field": 1}, {"size": "x", "lr": []}])
def test_export_with_a_bad_config_says_so(tmp_path: Path, config: object) -> None:
    from studio.training.export import export_checkpoint

    save_checkpoint(tmp_path / "run" / "checkpoint.pt", {"step": 1, "config": config})
    with pytest.raises((CheckpointError, ValueError, FileNotFoundError)):
        export_checkpoint(tmp_path / "run", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_saved_state_is_plain_and_loads_weights_only(tmp_path: Path) -> None:
    state = {"step": np.int64(3), "config": {"data": tmp_path, "size": np.float32(0.5),
                                             "channels": (16, 32), "seed": None},
             "array": np.arange(3), "tensor": torch.ones(2)}
    save_checkpoint(tmp_path / "checkpoint.pt", state)
    loaded = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert loaded["step"] == 3 and type(loaded["step"]) is int
    assert loaded["config"] == {"data": str(tmp_path), "size": 0.5, "channels": (16, 32),
                                "seed": None}
    assert torch.equal(loaded["array"], torch.arange(3)) and torch.equal(loaded["tensor"],
                                                                          torch.ones(2))


def test_saving_an_object_fails_at_save_time(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="weights-only"):
        save_checkpoint(tmp_path / "checkpoint.pt", {"config": object()})
    assert not (tmp_path / "checkpoint.pt").exists()


def test_resume_of_a_real_checkpoint_still_works(
        tiny_data: Path, tmp_path: Path) -> None:  # noqa: F811 - test_training's fixture
    first = Trainer(tiny_config(tiny_data, tmp_path / "run", max_steps=2))
    first.train()
    again = Trainer(tiny_config(tiny_data, tmp_path / "run", max_steps=2))
    assert again.resume() and again.step == 2
    for name, value in first.unet.state_dict().items():
        assert torch.equal(value, again.unet.state_dict()[name]), name


def _tiny_vae(folder: Path) -> Path:
    from studio.training.vae import VAEConfig, build_vae

    vae = build_vae(VAEConfig(size=8, channels=(16, 16), latent_channels=4))
    vae.save_pretrained(folder)
    return folder


def test_save_resume_export_round_trip_through_the_cli(
        tiny_data: Path, tmp_path: Path) -> None:  # noqa: F811 - test_training's fixture
    from studio.cli import main

    vae = _tiny_vae(tmp_path / "vae")
    config = tiny_config(tiny_data, tmp_path / "run", vae=str(vae), max_steps=2)
    Trainer(config).train()
    moved = tmp_path / "moved-run"
    (tmp_path / "run").rename(moved)  # export uses the run it is given, wherever it is now
    out = tmp_path / "exported"
    assert main(["train", "export", "--run", str(moved), "--out", str(out)]) == 0
    assert (out / "model_index.json").is_file() and (out / "latent_rgb.json").is_file()
    assert (out / "reference_sample.png").is_file()
