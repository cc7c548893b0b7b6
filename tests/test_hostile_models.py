"""Issue #19: model folders whose files are not small regular files never hang or flood memory.

Each hostile shape (a link to /dev/zero, a FIFO, a directory, a 50 MB file, invalid JSON, ...)
must give a clear error naming the file, or be skipped by the registry with that reason. Calls
that could hang or read forever run in a child process with a memory cap and a hang guard.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.hostile_helpers import call_isolated, run_guarded

BIG = 50 * 1024 * 1024


def _write(path: Path, data: bytes) -> None:
    path.write_bytes(data)


def _sparse(path: Path) -> None:
    with open(path, "wb") as handle:
        handle.truncate(BIG)


def _loop(path: Path) -> None:
    os.symlink(path.name, path)


SHAPES = {
    "dev-zero": (lambda p: os.symlink("/dev/zero", p), "character device"),
    "fifo": (lambda p: os.mkfifo(p), "FIFO"),
    "directory": (lambda p: p.mkdir(), "directory"),
    "50-MB-file": (_sparse, "larger than"),
    "invalid-json": (lambda p: _write(p, b'{"_class_name": '), "invalid JSON"),
    "empty": (lambda p: _write(p, b""), "invalid JSON"),
    "json-list": (lambda p: _write(p, b'["StableDiffusionPipeline"]'), "found an array"),
    "json-string": (lambda p: _write(p, b'"x"'), "found a string"),
    "json-null": (lambda p: _write(p, b"null"), "found null"),
    "json-number": (lambda p: _write(p, b"1e999"), "found a number"),
    "non-utf8": (lambda p: _write(p, b'{"_class_name": "\xff\xfe"}'), "not UTF-8"),
    "nul-bytes": (lambda p: _write(p, b"\0" * 64), "invalid JSON"),
    "deep-nesting": (lambda p: _write(p, b"[" * 200_000), "invalid JSON"),
    "huge-integer": (lambda p: _write(p, b'{"x": ' + b"9" * 10_000 + b"}"), "invalid JSON"),
    "dangling-link": (lambda p: os.symlink("nowhere.json", p), "broken symbolic link"),
    "link-loop": (_loop, "Too many levels of symbolic links"),
}
SHAPE_IDS = sorted(SHAPES)


def _hostile(path: Path, shape: str) -> str:
    """Make `path` the given hostile shape; returns the phrase the error must contain."""
    path.parent.mkdir(parents=True, exist_ok=True)
    make, phrase = SHAPES[shape]
    make(path)
    return phrase


def _model_folder(root: Path, shape: str) -> tuple[Path, str]:
    folder = root / "hostile-model"
    return folder, _hostile(folder / "model_index.json", shape)


# ----- functions the child processes call (JSON in, JSON out) -------------------------------
def load_index_error(folder: str) -> str:
    from studio.core.models import load_model_index

    try:
        load_model_index(Path(folder))
    except (OSError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return "loaded"


def registry_view(root: str) -> dict:
    from studio.core.models import ModelRegistry

    registry = ModelRegistry(Path(root) / "no-embedded", [Path(root)])
    names = [entry.name for entry in registry.entries()]
    return {"names": names, "skipped": {p.name: why for p, why in registry.skipped.items()}}


def resolve_error(folder: str) -> str:
    from studio.core.models import ModelRegistry, resolve_model

    try:
        resolve_model(folder, ModelRegistry(Path(folder) / "none", []))
    except (FileNotFoundError, ValueError) as exc:  # what the CLI reports as an error
        return f"{type(exc).__name__}: {exc}"
    return "resolved"


def loader_error(folder: str) -> str:
    from studio.engine.loading import ModelLoadError, checked_model_index

    try:
        checked_model_index(Path(folder))
    except ModelLoadError as exc:
        return f"ModelLoadError: {exc}"
    return "loaded"


def json_sections(folder: str) -> list:
    from studio.core.models import model_defaults, native_resolution
    from studio.core.prompts import load_expansions

    return [load_expansions(Path(folder)), model_defaults(Path(folder)),
            native_resolution(Path(folder))]


def header_error(path: str) -> str:
    from studio.core.checkpoints import inspect_checkpoint

    return inspect_checkpoint(Path(path)).problem or "supported"


# ----- model_index.json ----------------------------------------------------------------------
@pytest.mark.parametrize("shape", SHAPE_IDS)
def test_model_index_read_names_the_problem(tmp_path: Path, shape: str) -> None:
    folder, phrase = _model_folder(tmp_path, shape)
    result = call_isolated("tests.test_hostile_models:load_index_error", str(folder))
    assert result["ok"], result
    assert "model_index.json" in result["value"] and phrase in result["value"]
    assert "\n" not in result["value"]


@pytest.mark.parametrize("shape", SHAPE_IDS)
def test_registry_skips_a_hostile_folder_with_its_reason(tmp_path: Path, shape: str) -> None:
    _model_folder(tmp_path, shape)
    good = tmp_path / "good-model"
    good.mkdir()
    (good / "model_index.json").write_text('{"_class_name": "StableDiffusionPipeline"}')
    result = call_isolated("tests.test_hostile_models:registry_view", str(tmp_path))
    assert result["ok"], result
    assert result["value"]["names"] == ["good-model"]
    reason = result["value"]["skipped"]["hostile-model"]
    assert SHAPES[shape][1] in reason and "model_index.json" in reason


@pytest.mark.parametrize("shape", SHAPE_IDS)
def test_resolve_model_reports_the_problem_not_a_missing_index(tmp_path: Path, shape: str
                                                                ) -> None:
    folder, phrase = _model_folder(tmp_path, shape)
    result = call_isolated("tests.test_hostile_models:resolve_error", str(folder))
    assert result["ok"], result
    assert phrase in result["value"] and "no model_index.json" not in result["value"]


@pytest.mark.parametrize("shape", SHAPE_IDS)
def test_loader_refuses_a_hostile_model_index(tmp_path: Path, shape: str) -> None:
    folder, phrase = _model_folder(tmp_path, shape)
    result = call_isolated("tests.test_hostile_models:loader_error", str(folder))
    assert result["ok"], result
    assert result["value"].startswith("ModelLoadError: ") and phrase in result["value"]
    assert "no model_index.json" not in result["value"]


@pytest.mark.parametrize("shape", SHAPE_IDS)
def test_loader_checks_component_configs(tmp_path: Path, shape: str) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model_index.json").write_text(json.dumps(
        {"_class_name": "StableDiffusionPipeline", "unet": ["diffusers", "UNet2DConditionModel"]}))
    phrase = _hostile(folder / "unet" / "config.json", shape)
    result = call_isolated("tests.test_hostile_models:loader_error", str(folder))
    assert result["ok"], result
    if shape == "directory":  # a directory named config.json: left to the loader
        assert result["value"] == "loaded"
        return
    assert "unet/config.json" in result["value"] and phrase in result["value"]


@pytest.mark.parametrize("shape", ["dev-zero", "fifo", "dangling-link", "link-loop"])
def test_loader_refuses_weight_files_that_are_not_files(tmp_path: Path, shape: str) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model_index.json").write_text(json.dumps({"vae": ["diffusers", "AutoencoderKL"]}))
    _hostile(folder / "vae" / "diffusion_pytorch_model.safetensors", shape)
    result = call_isolated("tests.test_hostile_models:loader_error", str(folder))
    assert result["ok"], result
    assert "diffusion_pytorch_model.safetensors" in result["value"]


def test_a_bom_before_valid_json_still_loads(tmp_path: Path) -> None:
    from studio.core.models import load_model_index

    (tmp_path / "model_index.json").write_bytes(b'\xef\xbb\xbf{"_class_name": "X"}')
    assert load_model_index(tmp_path) == {"_class_name": "X"}


def test_pipeline_cache_reports_invalid_json_with_the_file_name(tmp_path: Path) -> None:
    from studio.core.requests import JobKind
    from studio.engine.device import plan_device
    from studio.engine.pipelines import ModelLoadError, PipelineCache

    (tmp_path / "model_index.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match=r"model_index.json: invalid JSON"):
        PipelineCache(plan_device("cpu")).get(tmp_path, JobKind.TXT2IMG)


def test_pipeline_cache_refuses_a_fifo_without_blocking(tmp_path: Path) -> None:
    from studio.core.requests import JobKind
    from studio.engine.device import plan_device
    from studio.engine.pipelines import ModelLoadError, PipelineCache

    os.mkfifo(tmp_path / "model_index.json")
    cache = PipelineCache(plan_device("cpu"))
    with pytest.raises(ModelLoadError, match="FIFO"):
        run_guarded(lambda: cache.get(tmp_path, JobKind.TXT2IMG), timeout=30)


# ----- other JSON a model folder ships -------------------------------------------------------
@pytest.mark.parametrize("shape", SHAPE_IDS)
def test_model_json_sections_fall_back_to_empty(tmp_path: Path, shape: str) -> None:
    """prompts.json, studio.json and unet/config.json: ignored (logged), never hang."""
    for name in ("prompts.json", "studio.json", "unet/config.json"):
        _hostile(tmp_path / name, shape)
    (tmp_path / "vae").mkdir()
    (tmp_path / "vae" / "config.json").write_text('{"block_out_channels": [1, 2, 3, 4]}')
    result = call_isolated("tests.test_hostile_models:json_sections", str(tmp_path))
    assert result == {"ok": True, "value": [{}, {}, None]}


@pytest.mark.parametrize("shape", SHAPE_IDS)
def test_malformed_latent_rgb_falls_back_to_the_default_preview(
        tmp_path: Path, shape: str, caplog: pytest.LogCaptureFixture) -> None:
    from studio.engine.preview import SD1_FACTORS, preview_for_model

    _hostile(tmp_path / "latent_rgb.json", shape)
    preview = run_guarded(lambda: preview_for_model(tmp_path, "StableDiffusionPipeline"))
    assert preview.factors == SD1_FACTORS
    assert "latent_rgb.json" in caplog.text


@pytest.mark.parametrize("content", [
    {"factors": [[1, 2]]}, {"factors": []}, {"factors": [[1, 2, 3]] * 65},
    {"factors": [[1, 2, "x"]]}, {"factors": [[1, 2, None]]}, {"factors": [[1, 2, True]]},
    {"factors": "abc"}, {"factors": [[1, 2, 3]], "bias": [0, 0]}, {"bias": [0, 0, 0]},
    {"factors": [[1, 2, 3]], "bias": "xyz"}, {"factors": [[1e400, 0, 0]]},
    {"factors": [[float("nan"), 0, 0]]}, {"factors": [[1, 2, 3]], "bias": None},
    {"factors": [{"a": 1}]}, {"factors": [[1, 2, 3, 4]]},
])
def test_invalid_latent_rgb_values_fall_back(tmp_path: Path, content: dict) -> None:
    from studio.engine.preview import SD1_FACTORS, SDXL_FACTORS, preview_for_model

    (tmp_path / "latent_rgb.json").write_text(json.dumps(content))
    assert preview_for_model(tmp_path, "StableDiffusionPipeline").factors == SD1_FACTORS
    assert preview_for_model(tmp_path, "StableDiffusionXLPipeline").factors == SDXL_FACTORS


def test_a_valid_latent_rgb_is_used(tmp_path: Path) -> None:
    from studio.engine.preview import preview_for_model

    rgb = {"factors": [[1, 0, 0], [0, 1, 0], [0, 0, 1], [0.5, 0.5, 0.5]], "bias": [0.1, 0, 0]}
    (tmp_path / "latent_rgb.json").write_text(json.dumps(rgb))
    preview = preview_for_model(tmp_path, "StableDiffusionPipeline")
    assert preview.factors[3] == (0.5, 0.5, 0.5) and preview.bias == (0.1, 0.0, 0.0)


@pytest.mark.parametrize("shape", SHAPE_IDS)
def test_malformed_scheduler_config_gives_the_default_schedule(tmp_path: Path, shape: str
                                                               ) -> None:
    from studio.core.noise_schedule import NoiseSchedule

    _hostile(tmp_path / "scheduler" / "scheduler_config.json", shape)
    schedule = run_guarded(lambda: NoiseSchedule.from_model(tmp_path))
    assert schedule.steps == 1000


@pytest.mark.parametrize("config", [
    {"num_train_timesteps": 10**12}, {"num_train_timesteps": 0}, {"num_train_timesteps": "x"},
    {"beta_schedule": "nope"}, {"trained_betas": [[1, 2], [3]]}, {"beta_start": [1]},
    {"num_train_timesteps": 1e400},
])
def test_absurd_scheduler_values_give_the_default_schedule(tmp_path: Path, config: dict
                                                           ) -> None:
    from studio.core.noise_schedule import NoiseSchedule

    (tmp_path / "scheduler").mkdir()
    (tmp_path / "scheduler" / "scheduler_config.json").write_text(json.dumps(config))
    assert NoiseSchedule.from_model(tmp_path).steps == 1000


@pytest.mark.parametrize("shape", ["dev-zero", "fifo", "50-MB-file", "directory"])
def test_single_file_checkpoint_header_never_blocks(tmp_path: Path, shape: str) -> None:
    path = tmp_path / "model.safetensors"
    phrase = _hostile(path, shape)
    result = call_isolated("tests.test_hostile_models:header_error", str(path))
    assert result["ok"], result
    if shape == "50-MB-file":  # a sparse file of zeros: header size 0 is implausible
        phrase = "implausible"
    assert phrase in result["value"]


@pytest.mark.parametrize("shape", ["dev-zero", "fifo", "invalid-json", "json-list"])
def test_sr_folder_detection_survives_hostile_configs(tmp_path: Path, shape: str) -> None:
    from studio.core.upscaler_catalog import is_sr_folder

    _hostile(tmp_path / "config.json", shape)
    (tmp_path / "model.safetensors").write_bytes(b"")
    assert run_guarded(lambda: is_sr_folder(tmp_path)) is False


def test_registry_still_lists_the_shipped_model() -> None:
    from studio.core.models import EMBEDDED_MODELS_DIR, ModelRegistry

    if not (EMBEDDED_MODELS_DIR / "emoji-sd" / "model_index.json").is_file():
        pytest.skip("no shipped model")
    registry = ModelRegistry()
    assert "emoji-sd" in [e.name for e in registry.entries()] and not registry.skipped

