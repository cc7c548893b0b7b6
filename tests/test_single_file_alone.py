"""One `.safetensors` of each architecture is all a user needs; full-size files are cached."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from PIL import Image

from studio.core.models import ModelRegistry, resolve_model
from studio.core.requests import GenerateRequest
from studio.engine import converted, loading
from studio.engine.device import plan_device
from studio.engine.loading import CONFIGS_DIR, load_single_file
from studio.engine.pipelines import PipelineCache
from studio.engine.runner import GenerationRunner, JobControl
from tests.ldm_export import export_ldm_checkpoint

CAT = [49406, 320, 1125, 539, 320, 2368, 49407]


def _clip_sized(pipe) -> None:  # noqa: ANN001
    """Text encoders that take CLIP's 49,408 token ids and 77 positions (still tiny)."""
    from transformers import CLIPTextConfig

    for name in ("text_encoder", "text_encoder_2"):
        encoder = getattr(pipe, name, None)
        if encoder is not None:
            config = CLIPTextConfig(**{**encoder.config.to_dict(), "vocab_size": 49408,
                                       "max_position_embeddings": 77, "bos_token_id": 49406,
                                       "eos_token_id": 49407, "pad_token_id": 49407})
            torch.manual_seed(3)
            pipe.register_modules(**{name: type(encoder)(config)})


@pytest.fixture(scope="module")
def files(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """`<arch>/model.safetensors` + `model.config/` (sizes only: no tokenizer, no weights)."""
    from diffusers import DiffusionPipeline

    from tests.tiny_arch import build_tiny_sd2v, build_tiny_sdxl

    root = tmp_path_factory.mktemp("alone")
    sources = {"sd1": tiny_model_dir, "sd2": build_tiny_sd2v(root, tiny_model_dir),
               "sdxl": build_tiny_sdxl(root)}
    out = {}
    for arch, source in sources.items():
        pipe = DiffusionPipeline.from_pretrained(source)
        _clip_sized(pipe)
        (root / arch).mkdir()
        path = export_ldm_checkpoint(pipe, root / arch / "model.safetensors",
                                     open_clip=arch == "sd2")
        pipe.save_pretrained(root / arch / "model.config")
        for junk in [*(root / arch / "model.config").glob("tokenizer*"),
                     *(root / arch / "model.config").rglob("*.safetensors")]:
            shutil.rmtree(junk) if junk.is_dir() else junk.unlink()
        out[arch] = path
    return out


@pytest.fixture
def no_user_tokenizers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hide tokenizer folders a developer may have dropped into resources/configs/."""
    real = loading._tokenizer_dirs
    monkeypatch.setattr(loading, "_tokenizer_dirs", lambda *a: [
        d for d in real(*a) if not d.is_relative_to(CONFIGS_DIR)])


PADS = {"sd1": ["<|endoftext|>"], "sd2": ["!"], "sdxl": ["<|endoftext|>", "!"]}


@pytest.mark.parametrize("arch", ["sd1", "sd2", "sdxl"])
def test_a_lone_file_loads_with_the_shipped_tokenizer(arch: str, files: dict[str, Path],
                                                      no_user_tokenizers: None) -> None:
    path = files[arch]
    assert not list(path.parent.rglob("vocab.json")) and not list(path.parent.rglob("tokenizer*"))
    pipe = load_single_file(path, torch.float32)
    tokenizers = [pipe.tokenizer, getattr(pipe, "tokenizer_2", None)]
    assert [t.pad_token for t in tokenizers if t is not None] == PADS[arch]
    assert all(t("a photo of a cat")["input_ids"] == CAT for t in tokenizers if t is not None)


@pytest.mark.parametrize("arch", ["sd1", "sd2", "sdxl"])
def test_studio_generate_takes_just_the_file(arch: str, files: dict[str, Path], tmp_path: Path,
                                             no_user_tokenizers: None) -> None:
    from studio.cli import main

    out = tmp_path / "a.png"
    code = main(["generate", "--model", str(files[arch]), "--prompt", "a photo of a cat",
                 "--steps", "2", "--output", str(out)])
    assert code == 0 and Image.open(out).size == (64, 64)


@pytest.mark.parametrize("arch", ["sd1", "sdxl"])
def test_registry_and_engine_like_the_gui(arch: str, files: dict[str, Path],
                                          no_user_tokenizers: None) -> None:
    registry = ModelRegistry(files[arch].parent / "none", [files[arch].parent])
    [entry] = registry.entries()
    assert entry.path == files[arch]
    model = resolve_model(str(entry.path), registry)
    runner = GenerationRunner(PipelineCache(plan_device("cpu")), max_preview_fps=0)
    request = GenerateRequest(model_path=str(model.path), prompt="a photo of a cat, 🐱",
                              steps=2, seed=1, width=64, height=64)
    assert runner.run_one(request, JobControl()).image.size == (64, 64)
    assert len(runner.cache.get(model.path, request.kind).tokenizer) == 49408


def test_a_users_tokenizer_next_to_the_file_wins(files: dict[str, Path], tmp_path: Path) -> None:
    from tests.tiny_models import build_char_tokenizer

    folder = tmp_path / "mine"
    shutil.copytree(files["sd1"].parent, folder)
    build_char_tokenizer(folder / "tokenizer")
    pipe = load_single_file(folder / "model.safetensors", torch.float32)
    assert len(pipe.tokenizer) == 514  # the char-level one, not CLIP's 49,408


@pytest.fixture
def cache_small_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setattr(converted, "CACHE_MIN_BYTES", 0)
    monkeypatch.setenv("STUDIO_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("STUDIO_CONVERT_CACHE", "1")
    return tmp_path / "data" / "converted"


def _single_file_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    from diffusers import StableDiffusionXLPipeline

    calls: list[str] = []
    real = StableDiffusionXLPipeline.from_single_file.__func__

    def spy(cls, path, **kwargs):  # noqa: ANN001, ANN202
        calls.append(path)
        return real(cls, path, **kwargs)

    monkeypatch.setattr(StableDiffusionXLPipeline, "from_single_file", classmethod(spy))
    return calls


def test_the_first_load_converts_once_and_says_so(files: dict[str, Path], tmp_path: Path,
                                                  cache_small_files: Path, monkeypatch) -> None:
    path = tmp_path / "xl.safetensors"
    shutil.copy(files["sdxl"], path)
    shutil.copytree(files["sdxl"].parent / "model.config", tmp_path / "xl.config")
    calls = _single_file_calls(monkeypatch)
    statuses: list[str] = []
    runner = GenerationRunner(PipelineCache(plan_device("cpu")), max_preview_fps=0)
    request = GenerateRequest(model_path=str(path), prompt="cat", steps=2, seed=1,
                              width=64, height=64)
    first = runner.run_one(request, JobControl(), on_status=statuses.append).image
    assert statuses == [f"Converted xl.safetensors once; next loads use the cache "
                        f"({next(cache_small_files.iterdir())})"]
    [folder] = list(cache_small_files.iterdir())
    assert (folder / converted.MARKER).is_file() and (folder / "model_index.json").is_file()
    assert len(calls) == 1
    statuses.clear()
    again = GenerationRunner(PipelineCache(plan_device("cpu")), max_preview_fps=0)
    second = again.run_one(request, JobControl(), on_status=statuses.append).image
    assert statuses == [] and len(calls) == 1  # read from the cache, no conversion
    assert list(first.getdata()) == list(second.getdata())
    direct = load_single_file(path, torch.float32)  # no cache: the same weights
    cached = again.cache.get(path, request.kind)
    for name in ("unet", "vae", "text_encoder", "text_encoder_2"):
        want, got = getattr(direct, name).state_dict(), getattr(cached, name).state_dict()
        assert all(torch.equal(v, got[k]) for k, v in want.items()), name


def test_a_changed_file_converts_again_and_drops_the_old_folder(
        files: dict[str, Path], tmp_path: Path, cache_small_files: Path) -> None:
    path = tmp_path / "model.safetensors"
    shutil.copy(files["sd1"], path)
    shutil.copytree(files["sd1"].parent / "model.config", tmp_path / "model.config")
    notes: list[str] = []
    load_single_file(path, torch.float32, converted.cache_root(), notes)
    old = list(cache_small_files.iterdir())
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one weight byte in the middle
    path.write_bytes(bytes(data))
    load_single_file(path, torch.float32, converted.cache_root(), notes)
    new = list(cache_small_files.iterdir())
    assert len(old) == len(new) == 1 and old != new and len(notes) == 2
    assert not list(cache_small_files.glob(".*"))  # no temporary folder left


def test_cache_off_and_unwritable_cache_still_load(files: dict[str, Path], tmp_path: Path,
                                                   cache_small_files: Path, monkeypatch) -> None:
    monkeypatch.delenv("STUDIO_CONVERT_CACHE")  # off by default
    assert converted.cache_root() is None
    cache = PipelineCache(plan_device("cpu"))
    cache.get(files["sd1"], GenerateRequest(model_path="x", prompt="x").kind)
    assert cache.take_warnings() == [] and not cache_small_files.exists()
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("x")
    notes: list[str] = []
    pipe = load_single_file(files["sd1"], torch.float32, blocker / "converted", notes)
    assert pipe.unet is not None and notes[0].startswith("Could not cache the conversion")


def test_small_files_are_not_cached(files: dict[str, Path], tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STUDIO_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("STUDIO_CONVERT_CACHE", "1")
    assert files["sd1"].stat().st_size < converted.CACHE_MIN_BYTES
    cache = PipelineCache(plan_device("cpu"))
    cache.get(files["sd1"], GenerateRequest(model_path="x", prompt="x").kind)
    assert not (tmp_path / "data" / "converted").exists()
