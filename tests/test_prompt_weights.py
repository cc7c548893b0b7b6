"""A1111 prompt weighting on the tiny SD and SDXL models: embeddings, pipelines, CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from studio.cli import main
from studio.core.infotext import parse_infotext
from studio.core.outputs import read_parameters
from studio.core.requests import GenerateRequest, JobKind
from studio.engine.prompt_weights import needs_weighting, text_kwargs, weighted_embeds
from studio.engine.runner import GenerationRunner
from tests.tiny_arch import build_tiny_sdxl

# the tiny tokenizers are char-level with 32 positions: chunks of 30 tokens
LONG = ", ".join(f"red apple {i}" for i in range(15))  # 153 tokens


@pytest.fixture(scope="module")
def sd(tiny_model_dir: Path):  # noqa: ANN201
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(str(tiny_model_dir))
    # a trained CLIP's final layer norm has a bias, so its outputs' mean is not zero, which
    # A1111's mean-restoring emphasis relies on; the random tiny encoder's bias is zero
    torch.manual_seed(0)
    with torch.no_grad():
        encoder = getattr(pipe.text_encoder, "text_model", pipe.text_encoder)  # transformers 4/5
        encoder.final_layer_norm.bias.normal_(0.3, 0.5)
    return pipe


@pytest.fixture(scope="module")
def xl(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    from diffusers import StableDiffusionXLPipeline

    folder = build_tiny_sdxl(tmp_path_factory.mktemp("xl"))
    return StableDiffusionXLPipeline.from_pretrained(str(folder))


def _sd_plain(pipe, prompt: str, negative: str) -> tuple[torch.Tensor, torch.Tensor]:  # noqa: ANN001
    with torch.no_grad():
        return pipe.encode_prompt(prompt, "cpu", 1, True, negative_prompt=negative)


def test_weights_of_one_give_exactly_the_plain_prompt_sd(sd) -> None:  # noqa: ANN001
    plain, plain_negative = _sd_plain(sd, "a cat", "dog")
    weighted = weighted_embeds(sd, "(a cat:1.0)", "(dog:1)")
    assert torch.equal(weighted["prompt_embeds"], plain)
    assert torch.equal(weighted["negative_prompt_embeds"], plain_negative)
    assert not torch.equal(weighted["prompt_embeds"], weighted_embeds(sd, "a (cat)")[
        "prompt_embeds"])


def test_weights_of_one_give_exactly_the_plain_prompt_sdxl(xl) -> None:  # noqa: ANN001
    with torch.no_grad():
        embeds, negative, pooled, negative_pooled = xl.encode_prompt(
            "a cat", negative_prompt="dog", do_classifier_free_guidance=True)
    weighted = weighted_embeds(xl, "(a cat:1.0)", r"(dog:1)")
    assert torch.equal(weighted["prompt_embeds"], embeds)
    assert torch.equal(weighted["negative_prompt_embeds"], negative)
    assert torch.equal(weighted["pooled_prompt_embeds"], pooled)
    assert torch.equal(weighted["negative_pooled_prompt_embeds"], negative_pooled)


def test_weighted_pooled_is_the_pooled_of_the_words(xl) -> None:  # noqa: ANN001
    """As in A1111, weights act on the token vectors; the pooled vector is of the bare words."""
    with torch.no_grad():
        _, _, pooled, _ = xl.encode_prompt("a cat", do_classifier_free_guidance=False)
    weighted = weighted_embeds(xl, "a (cat:1.6)")
    assert torch.equal(weighted["pooled_prompt_embeds"], pooled)
    assert not torch.equal(weighted["prompt_embeds"],
                           weighted_embeds(xl, "(a cat:1)")["prompt_embeds"])


def _scale(weighted: torch.Tensor, plain: torch.Tensor) -> float:
    """The factor f that best fits weighted = f * plain."""
    return ((weighted * plain).sum() / (plain * plain).sum()).item()


@pytest.mark.parametrize(("syntax", "factor"), [("(cat:1.5)", 1.5), ("(cat)", 1.1),
                                                ("[cat]", 1 / 1.1), ("(cat:0.5)", 0.5)])
@pytest.mark.parametrize("arch", ["sd", "xl"])
def test_a_weighted_word_is_scaled_relative_to_the_rest(request, arch: str, syntax: str,
                                                        factor: float) -> None:
    """A1111 "Original" emphasis: the word's vectors scale by the weight, the mean is kept."""
    pipe = request.getfixturevalue(arch)
    plain = weighted_embeds(pipe, "(a cat:1)")["prompt_embeds"][0]
    weighted = weighted_embeds(pipe, f"a {syntax}")["prompt_embeds"][0]
    ids = pipe.tokenizer("a cat")["input_ids"]
    cat = [i for i, t in enumerate(ids) if i >= 2 and t != pipe.tokenizer.eos_token_id]
    assert len(cat) == 3  # char-level tokens c, a, t
    rest = [i for i in range(plain.shape[0]) if i not in cat]
    width = pipe.text_encoder.config.hidden_size  # SDXL: each encoder on its own
    for features in (slice(0, width), slice(width, None)) if arch == "xl" else (slice(None),):
        p, w = plain[:, features], weighted[:, features]
        word, others = _scale(w[cat], p[cat]), _scale(w[rest], p[rest])
        assert word / others == pytest.approx(factor, rel=1e-3)
        assert w.mean().item() == pytest.approx(p.mean().item(), rel=1e-3)
        moved = (w[cat] - p[cat]).norm() / p[cat].norm()
        assert moved.item() > 0.01


def test_long_prompt_is_not_truncated(sd) -> None:  # noqa: ANN001
    assert len(sd.tokenizer(LONG)["input_ids"]) > 150
    assert needs_weighting(sd, LONG) and not needs_weighting(sd, "red apple")
    embeds = weighted_embeds(sd, LONG)["prompt_embeds"]
    assert embeds.shape[1] > 77 and embeds.shape[1] % 32 == 0
    # the last words count: the plain pipeline would cut them off and see two equal prompts
    other = weighted_embeds(sd, LONG[:-1] + "9")["prompt_embeds"]
    assert not torch.equal(embeds[:, -32:], other[:, -32:])
    assert torch.equal(embeds[:, :32], other[:, :32])


@pytest.mark.parametrize(("prompt", "negative"), [(LONG, "blurry"), ("apple", LONG),
                                                  ("(apple:1.2)", ""), (LONG, "")])
def test_positive_and_negative_get_the_same_length(sd, xl, prompt: str, negative: str) -> None:  # noqa: ANN001
    for pipe in (sd, xl):
        kwargs = text_kwargs(pipe, prompt, negative)
        assert "prompt" not in kwargs and "negative_prompt" not in kwargs
        if "negative_prompt_embeds" in kwargs:
            assert kwargs["negative_prompt_embeds"].shape == kwargs["prompt_embeds"].shape
        else:  # SDXL with no negative prompt: the pipeline uses zeros of the same shape
            assert pipe is xl and not negative
        image = pipe(**kwargs, num_inference_steps=1, width=64, height=64,
                     generator=torch.Generator().manual_seed(0)).images[0]
        assert image.size == (64, 64)


def test_plain_short_prompts_go_to_the_pipeline_as_text(sd, xl, tiny_model_dir) -> None:  # noqa: ANN001
    for pipe in (sd, xl):
        assert text_kwargs(pipe, "red apple, fruit", "") == dict(prompt="red apple, fruit",
                                                                 negative_prompt=None)
    request = GenerateRequest(model_path=str(tiny_model_dir), prompt="apple",
                              negative_prompt="blurry", seed=1)
    kwargs = GenerationRunner._pipe_kwargs(request, pipe=sd)
    assert kwargs["prompt"] == "apple" and kwargs["negative_prompt"] == "blurry"
    weighted = GenerationRunner._pipe_kwargs(
        GenerateRequest(model_path=str(tiny_model_dir), prompt="(apple)", seed=1), pipe=sd)
    assert "prompt" not in weighted and weighted["prompt_embeds"].shape[1] == 32


def test_img2img_takes_weighted_embeds(xl) -> None:  # noqa: ANN001
    from diffusers import AutoPipelineForImage2Image

    pipe = AutoPipelineForImage2Image.from_pipe(xl)
    init = Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8))
    request = GenerateRequest(model_path="x", prompt=LONG, negative_prompt="(blurry:1.3)",
                              kind=JobKind.IMG2IMG, steps=2, strength=0.5)
    image = pipe(**GenerationRunner._pipe_kwargs(request, init, pipe=pipe)).images[0]
    assert image.size == (64, 64)


def test_cli_generates_a_long_weighted_prompt_and_keeps_its_text(tiny_model_dir,
                                                                 tmp_path) -> None:
    prompt = "(red apple:1.4), [green], \\(fruit\\) BREAK " + LONG
    common = ["generate", "--negative", "(blurry:1.2)", "--steps", "2", "--seed", "5",
              "--width", "64", "--height", "64", "--model", str(tiny_model_dir)]
    assert main([*common, "--prompt", prompt, "--output", str(tmp_path / "w.png")]) == 0
    params = parse_infotext(read_parameters(tmp_path / "w.png"))
    assert params["Prompt"] == prompt and params["Negative prompt"] == "(blurry:1.2)"
    weighted = np.asarray(Image.open(tmp_path / "w.png"))
    assert weighted.shape == (64, 64, 3)
    assert main([*common, "--prompt", "red apple", "--output", str(tmp_path / "p.png")]) == 0
    assert not np.array_equal(weighted, np.asarray(Image.open(tmp_path / "p.png")))
