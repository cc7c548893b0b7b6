"""CLI destinations: checked before the work, never replaced unless asked, never lost."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.cli import main
from studio.core.outputs import read_parameters
from tests.cli_helpers import COMMANDS, command_args, pngs, studio, write_inputs


def _file(tmp: Path, name: str = "file.txt") -> Path:
    (tmp / name).write_text("not a folder")
    return tmp / name


def _folder(tmp: Path, name: str) -> Path:
    (tmp / name).mkdir()
    return tmp / name


def _listing(tmp: Path) -> list[str]:
    return sorted(os.path.join(root, name) for root, dirs, files in os.walk(tmp)
                  for name in dirs + files)


def _loop(tmp: Path) -> Path:
    (tmp / "loop").symlink_to(tmp / "loop")
    return tmp / "loop"


# (id, make the --output value in tmp, fragment of the one-line error)
HOSTILE_OUTPUTS = [
    ("nul-in-name", lambda t: f"{t}/x\0y.png", "NUL byte"),
    ("nul-in-folder", lambda t: f"{t}/d\0ir/x.png", "NUL byte"),
    ("nul-only", lambda t: "\0.png", "NUL byte"),
    ("name-too-long", lambda t: f"{t}/{'a' * 300}.png", "too long"),
    ("name-256-bytes", lambda t: f"{t}/{'b' * 252}.png", "too long"),
    ("multibyte-name-too-long", lambda t: f"{t}/{'é' * 130}.png", "too long"),
    ("folder-name-too-long", lambda t: f"{t}/{'c' * 300}/x.png", "too long"),
    ("path-too-long", lambda t: f"{t}/" + "/".join(["d" * 200] * 25) + "/x.png", "too long"),
    ("parent-is-a-file", lambda t: f"{_file(t)}/x.png", "not a directory"),
    ("grandparent-is-a-file", lambda t: f"{_file(t)}/sub/x.png", "not a directory"),
    ("parent-is-dev-null", lambda t: "/dev/null/x.png", "not a directory"),
    ("output-is-a-folder", lambda t: str(_folder(t, "dir.png")), "is a directory"),
    ("symlink-loop-parent", lambda t: f"{_loop(t)}/x.png", "cannot use"),
    ("not-png", lambda t: f"{t}/x.jpg", "must be a .png"),
    ("no-suffix", lambda t: f"{t}/x", "must be a .png"),
    ("hidden-png", lambda t: f"{t}/.png", "must be a .png"),
    ("empty", lambda t: "", "must be a .png"),
    ("trailing-slash", lambda t: f"{t}/out/", "must be a .png"),
    ("folder-with-trailing-slash", lambda t: f"{_folder(t, 'x.png')}/", "is a directory"),
    ("proc", lambda t: "/proc/studio-test.png", "cannot write to /proc"),
]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case, make_output, fragment", HOSTILE_OUTPUTS,
                         ids=[c[0] for c in HOSTILE_OUTPUTS])
def test_unusable_destination_fails_before_the_work(command, case, make_output, fragment,
                                                    tiny_model_dir, tmp_path, capsys,
                                                    monkeypatch):
    def no_work(*args: object, **kwargs: object) -> int:
        raise AssertionError("the job ran although the destination is unusable")

    monkeypatch.setattr("studio.commands.backend_run.run_with_backend", no_work)
    args = command_args(command, tmp_path, tiny_model_dir)
    output = make_output(tmp_path)
    before = _listing(tmp_path)
    code = main([*args, "--output", output])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("studio: error: ") and fragment in err
    assert err.count("\n") == 1  # one line, no traceback
    assert _listing(tmp_path) == before


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("code, text", [
    (errno.EROFS, "Read-only file system"), (errno.EACCES, "Permission denied"),
    (errno.ENOSPC, "No space left on device"), (errno.EDQUOT, "quota"),
    (errno.EIO, "Input/output error"),
])
def test_folder_that_refuses_files_fails_before_the_work(command, code, text, tiny_model_dir,
                                                         tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()

    def refuse(*args: object, **kwargs: object) -> tuple[int, str]:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr("studio.commands.destinations.tempfile.mkstemp", refuse)
    argv = [*command_args(command, tmp_path, tiny_model_dir), "--output", str(out / "x.png")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"studio: error: cannot write to {out}: " in err and text.lower() in err.lower()
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("command", COMMANDS)
def test_full_disk_and_unwritable_ancestor_fail_before_the_work(command, tiny_model_dir,
                                                                tmp_path, capsys, monkeypatch):
    from collections import namedtuple

    args = command_args(command, tmp_path, tiny_model_dir)
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr("studio.commands.destinations.shutil.disk_usage",
                        lambda path: usage(10**9, 10**9 - 100, 100))
    assert main([*args, "--output", str(tmp_path / "x.png")]) == 2
    assert "not enough free space" in capsys.readouterr().err
    monkeypatch.undo()
    monkeypatch.setattr("studio.commands.destinations.os.access", lambda path, mode: False)
    assert main([*args, "--output", str(tmp_path / "new" / "deeper" / "x.png")]) == 2
    assert f"{tmp_path} is not writable" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("command, flag", [
    ("upscale", "--image"), ("img2img", "--image"), ("inpaint", "--image"),
    ("inpaint", "--mask"),
])
@pytest.mark.parametrize("link", ["same", "hardlink", "symlink"])
def test_overwrite_never_replaces_an_input(command, flag, link, tiny_model_dir, tmp_path,
                                           capsys):
    args = command_args(command, tmp_path, tiny_model_dir)
    source = Path(args[args.index(flag) + 1])
    original = source.read_bytes()
    out = source
    if link == "hardlink":
        os.link(source, out := tmp_path / "hard.png")
    elif link == "symlink":
        (out := tmp_path / "sym.png").symlink_to(source)
    assert main([*args, "--output", str(out), "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert "would replace the input image" in err and "--output" in err
    assert source.read_bytes() == original


def test_inpaint_mask_written_beside_the_output_must_not_be_the_mask_input(
        tiny_model_dir, tmp_path, capsys):
    args = command_args("inpaint", tmp_path, tiny_model_dir)
    mask = tmp_path / "mask.png"
    (tmp_path / "out.mask.png").write_bytes(mask.read_bytes())
    args[args.index("--mask") + 1] = str(tmp_path / "out.mask.png")
    assert main([*args, "--output", str(tmp_path / "out.png")]) == 2
    assert "is an input of this command" in capsys.readouterr().err


@pytest.mark.parametrize("command", COMMANDS)
def test_a_taken_name_is_kept_and_the_next_free_number_written(command, tiny_model_dir,
                                                                tmp_path, capsys):
    args = command_args(command, tmp_path, tiny_model_dir)
    out = tmp_path / "x.png"
    out.write_bytes(b"precious")
    (tmp_path / "x-2.png").write_bytes(b"also precious")
    assert main([*args, "--output", str(out)]) == 0
    captured = capsys.readouterr()
    assert out.read_bytes() == b"precious"
    assert (tmp_path / "x-2.png").read_bytes() == b"also precious"
    written = tmp_path / "x-3.png"
    assert captured.out.splitlines()[0] == str(written)
    assert f"{out} exists; wrote {written} instead" in captured.err
    assert read_parameters(written)


@pytest.mark.parametrize("command", COMMANDS)
def test_overwrite_replaces_atomically(command, tiny_model_dir, tmp_path, capsys):
    args = command_args(command, tmp_path, tiny_model_dir)
    out = tmp_path / "x.png"
    out.write_bytes(b"old")
    reader = out.open("rb")  # an open reader keeps the old file: it was replaced, not truncated
    assert main([*args, "--output", str(out), "--overwrite"]) == 0
    assert reader.read() == b"old"
    reader.close()
    assert capsys.readouterr().out.splitlines()[0] == str(out)
    with Image.open(out) as image:
        assert image.format == "PNG"
    assert sorted(pngs(tmp_path) - {"in.png", "mask.png"}) in (["x.png"],
                                                                ["x.mask.png", "x.png"])


def test_upscale_onto_its_own_source_keeps_the_source(tmp_path, capsys):
    image, _ = write_inputs(tmp_path)
    original = image.read_bytes()
    assert main(["upscale", "--image", str(image), "--model", "lanczos", "--scale", "2",
                 "--output", str(image)]) == 0
    assert image.read_bytes() == original
    assert capsys.readouterr().out.strip() == str(tmp_path / "in-2.png")
    with Image.open(tmp_path / "in-2.png") as big:
        assert big.size == (80, 64)


def test_batches_continue_numbering_and_the_cascade_follows_its_image(tiny_model_dir, tmp_path,
                                                                     capsys):
    args = [*command_args("generate", tmp_path, tiny_model_dir), "--batch", "2",
            "--upscale", "2", "--upscaler", "lanczos", "--output", str(tmp_path / "x.png")]
    assert main(args) == 0
    assert main(args) == 0
    out = capsys.readouterr().out.split()
    names = [Path(p).name for p in out]
    assert names == ["x-1.png", "x-1-x2.png", "x-2.png", "x-2-x2.png",
                     "x-3.png", "x-3-x2.png", "x-4.png", "x-4-x2.png"]
    assert np.array_equal(np.asarray(Image.open(tmp_path / "x-1.png")),
                          np.asarray(Image.open(tmp_path / "x-3.png")))  # same seeds again


@pytest.mark.parametrize("name", [
    "with space.png", "ünïcødé-🍎.png", "-leading-dash.png", "new/deep/er/x.png",
    "x.PNG", "a" * 251 + ".png", "bad-\udcff-byte.png", "x.png.png", "semi;colon&$(x).png",
])
def test_unusual_but_valid_names_are_written_exactly(name, tiny_model_dir, tmp_path,
                                                     capsysbinary):
    args = command_args("generate", tmp_path, tiny_model_dir)
    out = tmp_path / name
    assert main([*args, "--output", str(out)]) == 0
    assert out.is_file() and read_parameters(out)
    assert capsysbinary.readouterr().out == os.fsencode(str(out)) + b"\n"


def test_two_batches_at_once_keep_every_image(tiny_model_dir, tmp_path):
    out = tmp_path / "d" / "x.png"
    args = ["generate", "--prompt", "apple", "--steps", "2", "--batch", "3",
            "--model", str(tiny_model_dir), "--output", str(out)]
    runs = [studio(*args, "--seed", str(seed)) for seed in (0, 100)]
    printed = []
    for run in runs:
        stdout, stderr = run.communicate(timeout=300)
        assert run.returncode == 0, stderr
        printed += stdout.split()
    assert len(printed) == len(set(printed)) == 6
    assert pngs(out.parent) == {Path(p).name for p in printed}
    seeds = sorted(int(read_parameters(Path(p)).split("Seed: ")[1].split(",")[0])
                   for p in printed)
    assert seeds == [0, 1, 2, 100, 101, 102]
