"""`studio batch` on this machine: mirrored trees, the single commands' bytes, resume,
interruption, unreadable inputs, prompts files, and `--ray` without Ray."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from studio.cli import main
from studio.core.infotext import parse_infotext
from studio.core.outputs import read_parameters
from tests.cli_helpers import studio
from tests.upscale_helpers import build_tiny_sr, noise_image


@pytest.fixture(scope="module")
def sr_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_sr(tmp_path_factory.mktemp("sr"))


def make_tree(root: Path, count: int, size: int = 16) -> list[Path]:
    """`count` noise images spread over nested folders (png and jpg)."""
    paths = []
    for i in range(count):
        folder = root / ("" if i % 3 == 0 else f"d{i % 3}") / ("deep" if i % 5 == 4 else "")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"img{i:03d}.{'jpg' if i % 4 == 1 else 'png'}"
        noise_image(size, size, seed=i).save(path)
        paths.append(path)
    return paths


def outputs(out: Path) -> set[str]:
    return {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}


def test_upscale_mirrors_the_tree_with_the_single_commands_bytes(sr_dir, tmp_path, capsys):
    src, out = tmp_path / "in", tmp_path / "out"
    paths = make_tree(src, 6)
    assert main(["batch", "upscale", str(src), "--out", str(out), "--scale", "2",
                 "--model", str(sr_dir)]) == 0
    captured = capsys.readouterr()
    expected = {p.relative_to(src).with_suffix(".png").as_posix() for p in paths}
    assert outputs(out) == expected
    assert "6 of 6" in captured.err and "6 written, 0 already done, 0 failed" in captured.err
    assert len(captured.out.splitlines()) == 6
    single = tmp_path / "single.png"
    assert main(["upscale", "--image", str(paths[1]), "--scale", "2", "--model", str(sr_dir),
                 "--output", str(single)]) == 0
    batch_file = out / paths[1].relative_to(src).with_suffix(".png")
    assert batch_file.read_bytes() == single.read_bytes()
    params = parse_infotext(read_parameters(batch_file))
    assert params["Source"] == paths[1].name and params["Size"] == "32x32"


def test_a_rerun_skips_finished_outputs_and_redoes_only_missing_ones(tmp_path, capsys):
    src, out = tmp_path / "in", tmp_path / "out"
    make_tree(src, 5)
    argv = ["batch", "upscale", str(src), "--out", str(out), "--scale", "2", "--model",
            "lanczos"]
    assert main(argv) == 0
    capsys.readouterr()
    kept = out / "img000.png"
    before = kept.stat().st_ino, kept.stat().st_mtime_ns
    (out / "d1" / "img001.png").unlink()
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert captured.out.split() == [str(out / "d1" / "img001.png")]
    assert "1 written, 4 already done" in captured.err and "5 of 5" in captured.err
    assert (kept.stat().st_ino, kept.stat().st_mtime_ns) == before  # never rewritten


def test_unreadable_inputs_are_listed_at_the_end_and_exit_1(tmp_path, capsys):
    src, out = tmp_path / "in", tmp_path / "out"
    make_tree(src, 2)
    (src / "text.png").write_text("not an image")
    (src / "empty.jpg").write_bytes(b"")
    good = (src / "img000.png").read_bytes()
    (src / "sub").mkdir()
    (src / "sub" / "cut.png").write_bytes(good[: len(good) // 2])
    os.mkfifo(src / "sub" / "pipe.png")  # must not block the batch
    Image.new("L", (9000, 9000)).save(src / "huge.png", compress_level=1)
    code = main(["batch", "upscale", str(src), "--out", str(out), "--scale", "2", "--model",
                 "lanczos"])
    err = capsys.readouterr().err
    assert code == 1
    assert outputs(out) == {"img000.png", "d1/img001.png"}
    assert "2 written, 0 already done, 5 failed" in err
    for label, reason in (("empty.jpg", "empty"), ("text.png", "not an image"),
                          ("sub/cut.png", "truncated"), ("sub/pipe.png", "FIFO"),
                          ("huge.png", "larger than 8192")):
        line = next(x for x in err.splitlines() if x.startswith(f"  {label}:"))
        assert reason in line, line


@pytest.mark.parametrize("argv, message", [
    (["upscale", "{tmp}/missing", "--out", "{tmp}/o"], "IN_DIR not found"),
    (["upscale", "{tmp}/in", "--out", "{tmp}/in/a.png"], "is a file"),
    (["upscale", "{tmp}/in", "--out", "{tmp}/in"], "must not be IN_DIR"),
    (["upscale", "{tmp}/empty", "--out", "{tmp}/o"], "no images in"),
    (["upscale", "{tmp}/in", "--out", "{tmp}/o", "--actors", "2"], "--actors needs --ray"),
    (["upscale", "{tmp}/in", "--out", "{tmp}/o", "--tile", "5", "--model", "sr"], "tile size"),
    (["upscale", "{tmp}/in", "--out", "{tmp}/o", "--model", "{tmp}/nothing"], "not found"),
    (["img2img", "{tmp}/in", "--out", "{tmp}/o", "--model", "{tmp}/nothing"], "not found"),
    (["generate", "--prompts", "{tmp}/missing.txt", "--out", "{tmp}/o"], "not found"),
])
def test_bad_arguments_exit_2_before_any_work(tmp_path, capsys, argv, message):
    (tmp_path / "in").mkdir()
    (tmp_path / "empty").mkdir()
    noise_image(8, 8).save(tmp_path / "in" / "a.png")
    assert main(["batch", *[a.format(tmp=tmp_path) for a in argv]]) == 2
    err = capsys.readouterr().err
    assert "studio: error:" in err and message in err
    assert not (tmp_path / "o").exists()


def test_ray_missing_says_what_to_install(tmp_path, capsys, monkeypatch):
    (tmp_path / "in").mkdir()
    noise_image(8, 8).save(tmp_path / "in" / "a.png")
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    code = main(["batch", "upscale", str(tmp_path / "in"), "--out", str(tmp_path / "o"),
                 "--ray", "local"])
    assert code == 2
    assert "pip install -e '.[cluster]'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_interrupted_run_leaves_no_partial_file_and_the_rerun_does_each_once(sr_dir, tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    make_tree(src, 24)
    argv = ["batch", "upscale", str(src), "--out", str(out), "--scale", "2", "--model",
            str(sr_dir), "--device", "cpu"]
    first = studio(*argv, env={"STUDIO_TORCH_THREADS": "1"})
    written = _wait_for_lines(first, 3)
    first.send_signal(signal.SIGINT)
    rest_out, err = first.communicate(timeout=60)
    written += rest_out.split()
    assert first.returncode == 130, err
    assert "interrupted" in err
    assert not list(out.rglob(".tmp-*")), "a temp file was left behind"
    done = outputs(out)
    assert {Path(p).relative_to(out).as_posix() for p in written} == done and len(done) < 24
    for name in done:  # every file there is complete
        with Image.open(out / name) as image:
            image.load()
    second = studio(*argv)
    rest, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    again = {Path(p).relative_to(out).as_posix() for p in rest.split()}
    assert not again & done and again | done == outputs(out) and len(outputs(out)) == 24
    assert f"{24 - len(done)} written, {len(done)} already done, 0 failed" in err


def _wait_for_lines(process, count: int, timeout: float = 120.0) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while len(lines) < count:
        assert time.monotonic() < deadline, "no outputs in time"
        line = process.stdout.readline()
        assert line, process.stderr.read()
        lines.append(line.strip())
    return lines


def test_img2img_batch_matches_the_single_command(tiny_model_dir, tmp_path, capsys):
    src, out = tmp_path / "in", tmp_path / "out"
    paths = make_tree(src, 2, size=24)
    common = ["--prompt", "red apple", "--steps", "2", "--strength", "0.5", "--seed", "3",
              "--model", str(tiny_model_dir)]
    assert main(["batch", "img2img", str(src), "--out", str(out), *common]) == 0
    assert main(["img2img", "--image", str(paths[1]), *common, "--output",
                 str(tmp_path / "single.png")]) == 0
    capsys.readouterr()
    batch_file = out / "d1" / "img001.png"
    assert batch_file.read_bytes() == (tmp_path / "single.png").read_bytes()
    assert parse_infotext(read_parameters(batch_file))["Mode"] == "img2img"


def test_generate_from_lines_and_csv(tiny_model_dir, tmp_path, capsys):
    lines = tmp_path / "prompts.txt"
    lines.write_text("red apple\n\n# skipped\ngreen apple\n")
    model = ["--model", str(tiny_model_dir), "--steps", "1"]
    assert main(["batch", "generate", "--prompts", str(lines), "--out", str(tmp_path / "a"),
                 *model, "--seed", "7"]) == 0
    assert outputs(tmp_path / "a") == {"00001-red-apple.png", "00004-green-apple.png"}
    assert main(["generate", "--prompt", "green apple", *model, "--seed", "7", "--output",
                 str(tmp_path / "single.png")]) == 0
    assert ((tmp_path / "a" / "00004-green-apple.png").read_bytes()
            == (tmp_path / "single.png").read_bytes())
    table = tmp_path / "prompts.csv"
    table.write_text('prompt,seed,steps,width,height,scheduler,negative\n'
                     '"apple, red",5,2,32,48,DDIM,blurry\n')
    assert main(["batch", "generate", "--prompts", str(table), "--out", str(tmp_path / "b"),
                 *model]) == 0
    params = parse_infotext(read_parameters(tmp_path / "b" / "00002-apple-red.png"))
    assert (params["Seed"], params["Steps"], params["Size"], params["Sampler"]) == (
        "5", "2", "32x48", "DDIM")
    assert params["Negative prompt"] == "blurry"
    capsys.readouterr()


@pytest.mark.parametrize("text, message", [
    ("prompt,size\nx,3\n", "unknown column(s) 'size'"),
    ("prompt,width\nx,30\n", "line 2: width must be a multiple of 8"),
    ("prompt,steps\nx,0\n", "line 2: steps must be between"),
])
def test_generate_bad_prompts_file_exits_2(tiny_model_dir, tmp_path, capsys, text, message):
    (tmp_path / "p.csv").write_text(text)
    code = main(["batch", "generate", "--prompts", str(tmp_path / "p.csv"), "--out",
                 str(tmp_path / "o"), "--model", str(tiny_model_dir)])
    assert code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_a_failed_write_leaves_neither_output_nor_temp_file(tmp_path, monkeypatch):
    from studio.batch import saver as saver_module
    from studio.batch.saver import BatchSaver

    saver = BatchSaver()
    saver.target = tmp_path / "x.png"

    def broken(tmp: Path, path: Path) -> bool:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(saver_module, "_claim", broken)
    result = saver.save_with_infotext(1, 0, noise_image(4, 4), None, "p", "s")
    assert result.path is None and "No space left" in result.save_error
    assert list(tmp_path.iterdir()) == []
