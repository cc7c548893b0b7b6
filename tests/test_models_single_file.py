"""Single-file checkpoints: architecture detection, registry listing, offline round trip."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from studio.core.checkpoints import detect_architecture, inspect_checkpoint, read_header
from studio.core.models import ModelRegistry, resolve_model
from studio.core.requests import GenerateRequest, JobKind
from studio.engine.device import plan_device
from studio.engine.loading import CONFIGS_DIR, load_single_file
from studio.engine.pipelines import ModelLoadError, PipelineCache
from studio.engine.runner import GenerationRunner, JobControl
from tests.ldm_export import export_ldm_checkpoint

UNET_IN = "model.diffusion_model.input_blocks.0.0.weight"


@pytest.fixture(scope="module")
def checkpoint(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny SD pipeline as `tiny.safetensors` (LDM layout) + its `tiny.config/` folder."""
    from diffusers import StableDiffusionPipeline

    folder = tmp_path_factory.mktemp("single")
    pipe = StableDiffusionPipeline.from_pretrained(tiny_model_dir)
    path = export_ldm_checkpoint(pipe, folder / "tiny.safetensors")
    shutil.copytree(tiny_model_dir, folder / "tiny.config",
                    ignore=shutil.ignore_patterns("*.safetensors"))
    return path


def _shapes(*keys: str, in_channels: int = 4) -> dict[str, list[int]]:
    return {UNET_IN: [320, in_channels, 3, 3], **{k: [1] for k in keys}}


@pytest.mark.parametrize(("shapes", "arch", "supported"), [
    (_shapes("cond_stage_model.transformer.text_model.x"), "sd1", True),
    (_shapes("cond_stage_model.transformer.text_model.x", in_channels=9), "sd1-inpaint", True),
    (_shapes("cond_stage_model.model.transformer.x"), "sd2", True),
    (_shapes("conditioner.embedders.0.transformer.x", "conditioner.embedders.1.model.x"),
     "sdxl", True),
    (_shapes("conditioner.embedders.0.model.x"), "sdxl-refiner", False),
    (_shapes("conditioner.embedders.1.model.x", in_channels=9), "sdxl-inpaint", True),
    (_shapes("cond_stage_model.model.transformer.x", in_channels=9), "sd2-inpaint", True),
    (_shapes("cond_stage_model.model.transformer.x", in_channels=8), "sd2", False),
    (_shapes(), None, False),
    ({"double_blocks.0.img_attn.qkv.weight": [1]}, None, False),
])
def test_architecture_from_keys(shapes, arch, supported) -> None:
    found, problem = detect_architecture(shapes)
    assert found == arch and (problem is None) == supported


def test_unsupported_files_say_why(tmp_path: Path) -> None:
    flux = tmp_path / "flux.safetensors"
    save_file({"double_blocks.0.img_attn.qkv.weight": torch.zeros(1)}, str(flux))
    assert "Flux" in (inspect_checkpoint(flux).problem or "")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file at all")
    assert "unreadable" in (inspect_checkpoint(junk).problem or "")
    pickle = tmp_path / "old.ckpt"
    pickle.write_bytes(b"PK")
    with pytest.raises(ValueError, match="pickle checkpoints"):
        resolve_model(str(pickle), ModelRegistry(tmp_path / "none", [tmp_path]))
    with pytest.raises(ValueError, match="Flux"):
        resolve_model(str(flux), ModelRegistry(tmp_path / "none", [tmp_path]))
    with pytest.raises(ModelLoadError, match="Flux"):
        PipelineCache(plan_device("cpu")).get(flux, JobKind.TXT2IMG)


def test_registry_lists_checkpoints_and_skips_other_files(checkpoint: Path) -> None:
    save_file({"conv.weight": torch.zeros(1)}, str(checkpoint.parent / "upscaler.safetensors"))
    entries = ModelRegistry(checkpoint.parent / "none", [checkpoint.parent]).entries()
    assert [(e.name, e.path, e.pipeline_class) for e in entries] == [
        ("tiny", checkpoint, "StableDiffusionPipeline")]
    assert resolve_model(str(checkpoint), ModelRegistry()).path == checkpoint


def test_round_trip_loads_the_same_weights(checkpoint: Path, tiny_model_dir: Path) -> None:
    from diffusers import StableDiffusionPipeline

    original = StableDiffusionPipeline.from_pretrained(tiny_model_dir)
    loaded = load_single_file(checkpoint, torch.float32)
    for name in ("unet", "vae", "text_encoder"):
        want, got = getattr(original, name).state_dict(), getattr(loaded, name).state_dict()
        assert want.keys() == got.keys(), name
        for key, value in want.items():
            assert torch.equal(value, got[key].reshape(value.shape)), key


def test_single_file_generates_like_the_folder(checkpoint: Path, tiny_model_dir: Path) -> None:
    runner = GenerationRunner(PipelineCache(plan_device("cpu")), max_preview_fps=0)
    images, previews = [], []
    for model in (tiny_model_dir, checkpoint):
        request = GenerateRequest(model_path=str(model), prompt="apple", steps=2, seed=5,
                                  width=64, height=64, scheduler="Euler a")
        output = runner.run_one(request, JobControl(), lambda s, t, rgb: previews.append(rgb))
        images.append(np.asarray(output.image, dtype=int))
    assert np.abs(images[0] - images[1]).max() <= 1 and len(previews) == 4


def test_without_a_tokenizer_the_shipped_one_is_used(checkpoint: Path, tmp_path: Path,
                                                     monkeypatch) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty Hugging Face cache
    bare = tmp_path / "bare.safetensors"
    shutil.copy(checkpoint, bare)
    shutil.copytree(checkpoint.parent / "tiny.config", tmp_path / "bare.config",
                    ignore=shutil.ignore_patterns("tokenizer"))
    if (CONFIGS_DIR / "tokenizer").exists():
        pytest.skip("a tokenizer folder was put into resources/configs/")
    tokenizer = load_single_file(bare, torch.float32).tokenizer
    assert len(tokenizer) == 49408 and tokenizer("a cat")["input_ids"] == [49406, 320, 2368, 49407]


@pytest.mark.parametrize(("name", "unet_millions"), [
    ("sd15", 859.52), ("sd15-inpaint", 859.54), ("sd2-v", 865.91), ("sd2-inpaint", 865.93),
    ("sdxl", 2567.46), ("sdxl-inpaint", 2567.48)])
def test_shipped_configs_describe_the_real_architectures(name: str, unet_millions: float):
    from diffusers import UNet2DConditionModel

    config = json.loads((CONFIGS_DIR / name / "unet" / "config.json").read_text())
    with torch.device("meta"):
        unet = UNet2DConditionModel.from_config(config)
    assert sum(p.numel() for p in unet.parameters()) / 1e6 == pytest.approx(unet_millions,
                                                                            abs=0.01)
    index = json.loads((CONFIGS_DIR / name / "model_index.json").read_text())
    for component, spec in index.items():
        if isinstance(spec, list) and spec[0] and "Tokenizer" not in spec[1]:
            assert (CONFIGS_DIR / name / component).is_dir(), component


def test_header_reader_matches_safetensors(checkpoint: Path) -> None:
    from safetensors import safe_open

    shapes = read_header(checkpoint)
    with safe_open(str(checkpoint), "pt") as handle:
        assert set(handle.keys()) == set(shapes)
        assert list(handle.get_slice(UNET_IN).get_shape()) == shapes[UNET_IN]


def test_native_resolution_of_checkpoints(checkpoint: Path, tmp_path: Path) -> None:
    from studio.core.models import native_resolution

    assert native_resolution(checkpoint) == 64  # from its tiny.config/ sidecar
    xl = tmp_path / "xl.safetensors"
    save_file({UNET_IN: torch.zeros(1, 4, 1, 1), "conditioner.embedders.1.model.x": torch.zeros(1)},
              str(xl))
    assert native_resolution(xl) == 1024


def test_sdxl_single_file_round_trip_and_generation(tmp_path: Path) -> None:
    """Two text encoders (CLIP-L layout + OpenCLIP layout) and the pooled/size embedding."""
    from diffusers import StableDiffusionXLPipeline

    from tests.tiny_arch import build_tiny_sdxl

    folder = build_tiny_sdxl(tmp_path)
    original = StableDiffusionXLPipeline.from_pretrained(folder)
    path = export_ldm_checkpoint(original, tmp_path / "xl.safetensors")
    shutil.copytree(folder, tmp_path / "xl.config", ignore=shutil.ignore_patterns("*.safetensors"))
    assert inspect_checkpoint(path).architecture == "sdxl"
    loaded = load_single_file(path, torch.float32)
    assert type(loaded).__name__ == "StableDiffusionXLPipeline"
    for name in ("unet", "vae", "text_encoder", "text_encoder_2"):
        want, got = getattr(original, name).state_dict(), getattr(loaded, name).state_dict()
        assert want.keys() == got.keys(), name
        assert all(torch.equal(v, got[k].reshape(v.shape)) for k, v in want.items()), name
    runner = GenerationRunner(PipelineCache(plan_device("cpu")), max_preview_fps=0)
    images = []
    for model in (folder, path):
        request = GenerateRequest(model_path=str(model), prompt="apple", steps=2, seed=5,
                                  width=64, height=64, scheduler="DPM++ 2M Karras")
        images.append(np.asarray(runner.run_one(request, JobControl()).image, dtype=int))
    assert np.abs(images[0] - images[1]).max() <= 1


def test_cli_generates_from_a_checkpoint_and_explains_hub_ids(checkpoint: Path,
                                                               tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from PIL import Image

    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, PYTHONPATH=str(root), HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path))

    def studio(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "studio", "generate", "--prompt", "apple",
                               "--steps", "2", *args], capture_output=True, text=True,
                              timeout=300, env=env, cwd=root)

    done = studio("--model", str(checkpoint), "--scheduler", "LCM",
                  "--output", str(tmp_path / "a.png"))
    assert done.returncode == 0, done.stderr
    assert Image.open(tmp_path / "a.png").size == (64, 64)  # native size from its configs
    missing = studio("--model", "nobody/not-cached", "--output", str(tmp_path / "b.png"))
    assert missing.returncode != 0 and "not in the local Hugging Face cache" in missing.stderr
    assert not (tmp_path / "b.png").exists()


def test_sd2_single_file_is_detected_and_keeps_v_prediction(tiny_model_dir: Path,
                                                            tmp_path: Path) -> None:
    from diffusers import StableDiffusionPipeline

    from tests.tiny_arch import build_tiny_sd2v

    folder = build_tiny_sd2v(tmp_path, tiny_model_dir)
    original = StableDiffusionPipeline.from_pretrained(folder)
    path = export_ldm_checkpoint(original, tmp_path / "v.safetensors", open_clip=True)
    shutil.copytree(folder, tmp_path / "v.config", ignore=shutil.ignore_patterns("*.safetensors"))
    assert inspect_checkpoint(path).architecture == "sd2"
    loaded = load_single_file(path, torch.float32)
    assert loaded.scheduler.config.prediction_type == "v_prediction"
    want, got = original.text_encoder.state_dict(), loaded.text_encoder.state_dict()
    assert want.keys() == got.keys()
    assert all(torch.equal(v, got[k]) for k, v in want.items())


@pytest.mark.parametrize("arch", ["sd2", "sdxl"])
def test_sd2_and_sdxl_inpainting_single_files_inpaint_like_their_folders(
        arch: str, tiny_model_dir: Path, tmp_path: Path) -> None:
    from diffusers import DiffusionPipeline

    from tests.tiny_arch import build_tiny_inpaint, build_tiny_sd2v, build_tiny_sdxl

    base = (build_tiny_sdxl(tmp_path) if arch == "sdxl"
            else build_tiny_sd2v(tmp_path, tiny_model_dir))
    folder = build_tiny_inpaint(tmp_path, base, name=f"{arch}-inpaint")
    original = DiffusionPipeline.from_pretrained(folder)
    path = export_ldm_checkpoint(original, tmp_path / "inp.safetensors", open_clip=arch == "sd2")
    shutil.copytree(folder, tmp_path / "inp.config", ignore=shutil.ignore_patterns("*.safetensors"))
    assert inspect_checkpoint(path).architecture == f"{arch}-inpaint"
    loaded = load_single_file(path, torch.float32)
    assert type(loaded).__name__ == type(original).__name__
    assert loaded.unet.config.in_channels == 9
    want, got = original.unet.state_dict(), loaded.unet.state_dict()
    assert all(torch.equal(v, got[k].reshape(v.shape)) for k, v in want.items())
    rng = np.random.default_rng(0)
    init = Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 16, 48, 48))
    runner = GenerationRunner(PipelineCache(plan_device("cpu")), max_preview_fps=0)
    images = []
    for model in (folder, path):
        request = GenerateRequest(model_path=str(model), prompt="apple", steps=2, seed=5,
                                  width=64, height=64, scheduler="Euler", kind=JobKind.INPAINT,
                                  strength=1.0)
        output = runner.run_one(request, JobControl(), init=init, mask=mask)
        images.append(np.asarray(output.image, dtype=int))
    assert np.abs(images[0] - images[1]).max() <= 1
