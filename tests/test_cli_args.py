"""Hostile CLI arguments: each gets a clear one-line error (exit 2) before any work."""

from __future__ import annotations

import pytest
from PIL import Image

from studio.cli import build_parser, main
from tests.cli_helpers import command_args

# (command, extra arguments, fragment of the error)
BAD_VALUES = [
    ("generate", ["--steps", "0"], "--steps must be at least 1 (got 0)"),
    ("generate", ["--steps", "-3"], "--steps must be at least 1"),
    ("generate", ["--steps", "1001"], "steps must be between 1 and 1000"),
    ("generate", ["--width", "0"], "--width must be at least 1 (got 0)"),
    ("generate", ["--width", "-64"], "--width must be at least 1"),
    ("generate", ["--height", "0"], "--height must be at least 1"),
    ("generate", ["--width", "30"], "multiple of 8"),
    ("generate", ["--height", "4104"], "multiple of 8 between 8 and 4096"),
    ("generate", ["--width", "99999999999999999999"], "multiple of 8"),
    ("generate", ["--batch", "0"], "batch count must be between 1 and 100"),
    ("generate", ["--batch", "-2"], "batch count"),
    ("generate", ["--batch", "101"], "batch count"),
    ("generate", ["--guidance", "-1"], "guidance must be between 0 and 50"),
    ("generate", ["--guidance", "nan"], "guidance must be between 0 and 50"),
    ("generate", ["--guidance", "inf"], "guidance must be between 0 and 50"),
    ("generate", ["--guidance", "51"], "guidance"),
    ("generate", ["--seed", "-2"], "seed must be between 0 and 4294967295"),
    ("generate", ["--seed", str(2**32)], "seed must be between"),
    ("generate", ["--seed", str(2**70)], "seed must be between"),
    ("generate", ["--prompt", "apple \udcff"], "--prompt is not valid UTF-8"),
    ("generate", ["--prompt", "\udc80"], "--prompt is not valid UTF-8"),
    ("generate", ["--negative", "x\udcfe"], "--negative is not valid UTF-8"),
    ("generate", ["--prompt", "a\0b"], "--prompt contains a NUL"),
    ("generate", ["--negative", "\0"], "--negative contains a NUL"),
    ("generate", ["--model", "{tmp}/missing"], "not found"),
    ("generate", ["--model", "{tmp}"], "not a diffusers model folder"),
    ("generate", ["--model", "bad\udcffname"], "--model is not valid UTF-8"),
    ("generate", ["--model", "a\0b"], "--model contains a NUL"),
    ("generate", ["--upscale", "2", "--upscaler", "{tmp}/missing"], "not found"),
    ("generate", ["--upscale", "4", "--upscaler", "x\udcff"], "--upscaler is not valid UTF-8"),
    ("img2img", ["--strength", "0"], "strength must be in (0, 1]"),
    ("img2img", ["--strength", "-0.5"], "strength must be in (0, 1]"),
    ("img2img", ["--strength", "1.01"], "strength must be in (0, 1]"),
    ("img2img", ["--strength", "nan"], "strength must be in (0, 1]"),
    ("img2img", ["--strength", "0.01"], "leaves no denoising step to run: use at least 100"),
    ("img2img", ["--strength", "0.4", "--steps", "2"], "a strength of at least 0.5"),
    ("img2img", ["--strength", "1e-300"], "leaves no denoising step"),
    ("img2img", ["--steps", "0"], "--steps must be at least 1"),
    ("img2img", ["--work-size", "0"], "--work-size must be at least 1 (got 0)"),
    ("img2img", ["--work-size", "-512"], "--work-size must be at least 1"),
    ("img2img", ["--work-size", "63"], "work resolution must be 64–4096"),
    ("img2img", ["--work-size", "4097"], "work resolution must be 64–4096"),
    ("img2img", ["--guidance", "-0.1"], "guidance"),
    ("img2img", ["--seed", "-5"], "seed must be between"),
    ("img2img", ["--prompt", "\udcc3"], "--prompt is not valid UTF-8"),
    ("img2img", ["--image", "{tmp}/missing.png"], "image file not found"),
    ("img2img", ["--image", "{tmp}"], "image file is a directory"),
    ("img2img", ["--image", "{tmp}/text.png"], "cannot read image"),
    ("img2img", ["--image", "{tmp}/empty.png"], "cannot read image"),
    ("img2img", ["--image", "{tmp}/truncated.png"], "cannot read image"),
    ("img2img", ["--image", "{tmp}/a\0b.png"], "NUL byte"),
    ("inpaint", ["--mask", "{tmp}/missing.png"], "mask file not found"),
    ("inpaint", ["--mask", "{tmp}/small.png"], "10×10 but the image is 40×32"),
    ("inpaint", ["--mask", "{tmp}/black.png"], "The mask is empty"),
    ("inpaint", ["--mask", "{tmp}/text.png"], "cannot read mask"),
    ("inpaint", ["--mask-blur", "-1"], "mask blur must be 0–256"),
    ("inpaint", ["--mask-blur", "nan"], "mask blur must be 0–256"),
    ("inpaint", ["--mask-blur", "257"], "mask blur"),
    ("inpaint", ["--padding", "-1"], "padding 0–4096"),
    ("inpaint", ["--padding", "5000"], "padding 0–4096"),
    ("inpaint", ["--strength", "0.5", "--steps", "1"], "leaves no denoising step"),
    ("inpaint", ["--work-size", "0"], "--work-size must be at least 1"),
    ("upscale", ["--tile", "5"], "tile size must be between 32 and 2048"),
    ("upscale", ["--tile", "4096"], "tile size"),
    ("upscale", ["--model", "{tmp}/missing"], "not found"),
    ("upscale", ["--model", "x\udcff"], "--model is not valid UTF-8"),
    ("upscale", ["--prompt", "\udcff"], "--prompt is not valid UTF-8"),
    ("upscale", ["--seed", "-7"], "seed must be between"),
    ("upscale", ["--image", "{tmp}/text.png"], "cannot read"),
    ("upscale", ["--image", "{tmp}/missing.png"], "not found"),
]


def _hostile_files(tmp: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp))
    (folder / "text.png").write_text("not an image")
    (folder / "empty.png").write_bytes(b"")
    Image.new("RGB", (40, 32)).save(folder / "full.png")
    (folder / "truncated.png").write_bytes((folder / "full.png").read_bytes()[:40])
    Image.new("L", (10, 10), 255).save(folder / "small.png")
    Image.new("L", (40, 32), 0).save(folder / "black.png")


def _replace_flag(args: list[str], extra: list[str]) -> list[str]:
    """`args` with the flags in `extra` set to extra's values (replaced when present)."""
    args = list(args)
    for flag, value in zip(extra[::2], extra[1::2], strict=True):
        if flag in args:
            args[args.index(flag) + 1] = value
        else:
            args += [flag, value]
    return args


@pytest.mark.parametrize("command, extra, fragment", BAD_VALUES,
                         ids=[f"{c}{' '.join(e)[:40]!r}" for c, e, _ in BAD_VALUES])
def test_bad_value_is_a_clear_error_before_any_work(command, extra, fragment, tiny_model_dir,
                                                    tmp_path, capsys, monkeypatch):
    def no_work(*args: object, **kwargs: object) -> int:
        raise AssertionError("the job ran although an argument is bad")

    monkeypatch.setattr("studio.commands.backend_run.run_with_backend", no_work)
    _hostile_files(tmp_path)
    extra = [e.replace("{tmp}", str(tmp_path)) for e in extra]
    args = _replace_flag(command_args(command, tmp_path, tiny_model_dir), extra)
    code = main([*args, "--output", str(tmp_path / "out.png")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("studio: error: ") and fragment in err and err.count("\n") == 1
    assert not (tmp_path / "out.png").exists()


PARSE_ERRORS = [
    (["generate", "--steps", "abc"], "invalid int value: 'abc'"),
    (["generate", "--steps", "1.5"], "invalid int value"),
    (["generate", "--width", ""], "invalid int value"),
    (["generate", "--guidance", "lots"], "invalid float value"),
    (["generate", "--scheduler", "bogus"], "invalid choice: 'bogus'"),
    (["generate", "--upscale", "3"], "invalid choice: 3"),
    (["generate", "--device", "tpu"], "invalid choice: 'tpu'"),
    (["generate", "--output", "x.png", "--bogus-flag"], "unrecognized arguments"),
    (["generate"], "the following arguments are required: --output"),
    (["img2img", "--output", "x.png"], "required: --image"),
    (["inpaint", "--image", "i.png", "--output", "x.png"], "required: --mask"),
    (["upscale", "--image", "i.png", "--scale", "3", "--output", "x.png"], "invalid choice"),
    (["upscale", "--image", "i.png", "--tile", "big", "--output", "x.png"], "invalid int"),
    (["bogus-command"], "invalid choice: 'bogus-command'"),
    (["train"], "required: MODEL"),
    (["train", "diffusion", "--max-steps", "many"], "invalid int value: 'many'"),
    (["data", "emoji", "--size", "x"], "invalid int value"),
]


@pytest.mark.parametrize("argv, fragment", PARSE_ERRORS,
                         ids=[" ".join(a)[:40] for a, _ in PARSE_ERRORS])
def test_malformed_arguments_exit_2_with_usage(argv, fragment, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "usage: studio" in err and fragment in err


def test_zero_means_an_error_but_leaving_out_means_the_model_default(tiny_model_dir, tmp_path):
    from studio.commands.common import load_entry, make_request

    args = build_parser().parse_args(["generate", "--model", str(tiny_model_dir),
                                      "--output", str(tmp_path / "x.png")])
    request = make_request(args, load_entry(args.model))
    assert request.steps >= 1 and (request.width, request.height) == (64, 64)
    args.steps = 0
    with pytest.raises(ValueError, match="--steps must be at least 1"):
        make_request(args, load_entry(args.model))


def test_seed_minus_one_picks_a_random_seed_and_prints_it(tiny_model_dir, tmp_path, capsys):
    from studio.core.infotext import parse_infotext
    from studio.core.outputs import read_parameters

    args = command_args("generate", tmp_path, tiny_model_dir)
    assert main([*args, "--seed", "-1", "--output", str(tmp_path / "x.png")]) == 0
    err = capsys.readouterr().err
    printed = int(err.split("studio: seed ")[1].split()[0])
    assert parse_infotext(read_parameters(tmp_path / "x.png"))["Seed"] == str(printed)


def test_train_options_still_parse_and_dispatch():
    args = build_parser().parse_args(["train", "diffusion", "--max-steps", "3"])
    assert args.max_steps == 3 and callable(args.func)
    args = build_parser().parse_args(["train", "vae"])
    assert callable(args.func) and hasattr(args, "kl_weight")
