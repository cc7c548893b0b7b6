"""Hostile image files (issue #19): every input of img2img, inpaint and upscale refuses them
with one clear line, exit code 2 from the CLI and a failed job (not a crash) in the engine."""

from __future__ import annotations

from dataclasses import replace

import pytest

from studio.cli import main
from studio.core.images import ImageReadError, open_image
from studio.core.requests import GenerateRequest, JobKind
from studio.core.upscale import UpscalerKind, decode_source, make_request
from studio.engine.edit import EditJob
from tests.cli_helpers import command_args
from tests.image_samples import HOSTILE, encoded, noise
from tests.test_engine import engine  # noqa: F401 - fixture reuse

# CLI role -> (command, flag the hostile file goes to, how the message names it)
CLI_ROLES = {
    "img2img-image": ("img2img", "--image", "image"),
    "inpaint-image": ("inpaint", "--image", "image"),
    "inpaint-mask": ("inpaint", "--mask", "mask"),
    "upscale-image": ("upscale", "--image", "input image"),
}


def _with(args: list[str], flag: str, value: str) -> list[str]:
    args = list(args)
    args[args.index(flag) + 1] = value
    return args


@pytest.mark.parametrize("shape", sorted(HOSTILE))
@pytest.mark.parametrize("role", sorted(CLI_ROLES))
def test_cli_refuses_hostile_image_with_one_clear_line(role, shape, tiny_model_dir, tmp_path,
                                                       capsys, monkeypatch):
    def no_work(*args: object, **kwargs: object) -> int:
        raise AssertionError("the job ran although an input image is unusable")

    monkeypatch.setattr("studio.commands.backend_run.run_with_backend", no_work)
    command, flag, label = CLI_ROLES[role]
    hostile = tmp_path / f"hostile-{shape}.png"
    hostile.write_bytes(HOSTILE[shape]())
    args = _with(command_args(command, tmp_path, tiny_model_dir), flag, str(hostile))
    code = main([*args, "--output", str(tmp_path / "out.png")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith(f"studio: error: cannot read {label} {hostile}: "), err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "out.png").exists()


def _edit_request(kind: JobKind, image: bytes, mask: bytes | None = None) -> GenerateRequest:
    return GenerateRequest(model_path="unused", prompt="x", steps=2, width=64, height=64,
                           kind=kind, init_image=image, mask_image=mask, work_resolution=64)


def _engine_decode(role: str, data: bytes) -> object:
    good = encoded(noise())
    if role == "img2img-image":
        return EditJob(_edit_request(JobKind.IMG2IMG, data), 8)
    if role == "inpaint-image":
        return EditJob(_edit_request(JobKind.INPAINT, data, good), 8)
    if role == "inpaint-mask":
        return EditJob(_edit_request(JobKind.INPAINT, good, data), 8)
    return decode_source(data)


ENGINE_LABELS = {"img2img-image": "image", "inpaint-image": "image", "inpaint-mask": "mask",
                 "upscale-source": "source image"}


@pytest.mark.parametrize("shape", sorted(HOSTILE))
@pytest.mark.parametrize("role", sorted(ENGINE_LABELS))
def test_engine_decoding_refuses_hostile_image_with_a_clear_message(role, shape):
    with pytest.raises(ValueError) as info:
        _engine_decode(role, HOSTILE[shape]())
    message = str(info.value)
    assert message.startswith(f"cannot read {ENGINE_LABELS[role]}: ") and "\n" not in message
    assert isinstance(info.value, OSError)  # what callers of PIL's Image.open already catch


@pytest.mark.parametrize("shape", ["png-bomb-30000", "png-truncated-half", "empty", "text"])
def test_open_image_reasons_are_specific(shape, tmp_path):
    path = tmp_path / "x.png"
    path.write_bytes(HOSTILE[shape]())
    with pytest.raises(ImageReadError) as info:
        open_image(path, "mask")
    expected = {"png-bomb-30000": "decompression bomb", "png-truncated-half": "truncated",
                "empty": "the file is empty", "text": "not an image file"}[shape]
    assert str(info.value).startswith(f"cannot read mask {path}: ") and expected in str(info.value)


@pytest.mark.parametrize("role, shape", [("img2img-image", "png-bomb-30000"),
                                         ("inpaint-mask", "png-truncated-half"),
                                         ("upscale-source", "jpeg-truncated-half")])
def test_engine_job_fails_cleanly_and_keeps_serving(engine, tiny_model_dir, role,  # noqa: F811
                                                    shape):
    worker, rec, _ = engine
    good, data = encoded(noise()), HOSTILE[shape]()
    model = dict(model_path=str(tiny_model_dir), scheduler="DDIM", strength=1.0)
    if role == "upscale-source":
        request: object = replace(make_request(noise(), kind=UpscalerKind.LANCZOS, scale=2),
                                  image=data)
    elif role == "inpaint-mask":
        request = replace(_edit_request(JobKind.INPAINT, good, data), **model)
    else:
        request = replace(_edit_request(JobKind.IMG2IMG, data), **model)
    job = worker.submit(request)
    rec.wait()
    assert rec.kinds(job) == ["started", "failed"]
    assert rec.events[-1][2].startswith(f"cannot read {ENGINE_LABELS[role]}: ")
    rec.done.clear()
    rec.expected_final = 2
    again = worker.submit(replace(_edit_request(JobKind.IMG2IMG, good), **model))
    rec.wait()
    assert rec.kinds(again)[-1] == "finished"  # the engine still serves


@pytest.mark.parametrize("size", [(10, 10), (80, 64), (32, 40)])
def test_cli_mask_of_the_wrong_size_is_a_clear_error(size, tiny_model_dir, tmp_path, capsys):
    from PIL import Image

    args = command_args("inpaint", tmp_path, tiny_model_dir)
    Image.new("L", size, 255).save(tmp_path / "wrong.png")
    code = main([*_with(args, "--mask", str(tmp_path / "wrong.png")),
                 "--output", str(tmp_path / "out.png")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert f"The mask is {size[0]}×{size[1]} but the image is 40×32" in err
