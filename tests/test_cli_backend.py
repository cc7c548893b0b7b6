"""The CLI runs its jobs through the engine backend: same bytes as the GUI, same failures."""

from __future__ import annotations

import errno
import threading
from pathlib import Path

import pytest
from PIL import Image

from studio.cli import build_parser, main
from studio.commands.destinations import OutputPlan, Target, batch_targets
from studio.commands.path_saver import PathSaver
from studio.core.backend import (
    JobCancelled,
    JobFailed,
    JobFinished,
    JobProgress,
    JobQueued,
    JobResult,
    JobStarted,
)
from studio.core.outputs import OutputFolder, read_parameters
from studio.core.records import ImageResult, ResultSaver
from studio.core.requests import GenerateRequest, JobKind
from tests.cli_helpers import command_args, write_inputs


def _gui_bytes(request: object, folder: Path) -> list[bytes]:
    """Run `request` as the GUI does (LocalBackend + ResultSaver(OutputFolder))."""
    from studio.engine.context import EngineContext
    from studio.engine.device import plan_device
    from studio.engine.local_backend import LocalBackend, run_to_end

    backend = LocalBackend(ResultSaver(OutputFolder(folder)),
                           lambda: EngineContext.create(plan_device("cpu")))
    backend.start()
    try:
        final = run_to_end(backend, request, lambda event: None)
    finally:
        backend.shutdown()
    assert isinstance(final, JobFinished), final
    return [result.path.read_bytes() for result in final.results]


@pytest.mark.parametrize("command, extra", [
    ("generate", ["--batch", "2", "--upscale", "2", "--upscaler", "lanczos", "--seed", "7"]),
    ("generate", ["--prompt", "ünïcødé 🍎, \"quoted\"", "--negative", "blurry"]),
    ("img2img", ["--strength", "0.5"]),
    ("inpaint", []),
    ("upscale", []),
])
def test_cli_writes_the_same_bytes_as_the_gui(command, extra, tiny_model_dir, tmp_path, capsys):
    argv = [*command_args(command, tmp_path, tiny_model_dir), *extra,
            "--output", str(tmp_path / "cli" / "x.png")]
    assert main(argv) == 0
    written = [Path(p) for p in capsys.readouterr().out.split() if not p.endswith(".mask.png")]
    args = build_parser().parse_args(argv)
    if command == "generate":
        from studio.commands.generate import _prepare
    elif command == "upscale":
        from studio.commands.upscale import _prepare
    else:
        from studio.commands.edit import _prepare as prepare_edit

        def _prepare(a):  # noqa: ANN001, ANN202
            return prepare_edit(a, JobKind(command))
    request, _ = _prepare(args)
    gui = _gui_bytes(request, tmp_path / "gui")
    assert len(gui) == len(written) >= 1
    assert [p.read_bytes() for p in written] == gui


class _FakeBackend:
    def __init__(self, saver: object, factory: object) -> None:
        self.calls: list[object] = []
        _FakeBackend.last = self

    def start(self) -> None:
        self.calls.append("start")

    def cancel(self, job_id: int) -> None:
        self.calls.append(("cancel", job_id))

    def shutdown(self, timeout: float = 10.0) -> bool:
        self.calls.append("shutdown")
        return True


def _fake_engine(monkeypatch: pytest.MonkeyPatch, events: list, raise_after: bool = False
                 ) -> None:
    def run_to_end(backend: object, request: object, on_event):  # noqa: ANN001, ANN202
        for event in events:
            on_event(event)
        if raise_after:
            raise KeyboardInterrupt
        return events[-1]

    monkeypatch.setattr("studio.engine.local_backend.LocalBackend", _FakeBackend)
    monkeypatch.setattr("studio.engine.local_backend.run_to_end", run_to_end)


def _generate(tiny_model_dir: Path, tmp_path: Path) -> int:
    return main([*command_args("generate", tmp_path, tiny_model_dir),
                 "--output", str(tmp_path / "x.png")])


@pytest.mark.parametrize("final, code, message", [
    (JobFailed(1, "Out of memory. Try a smaller size"), 1, "studio: error: Out of memory."),
    (JobFailed(1, "The engine could not start: no GPU"), 1, "The engine could not start"),
    (JobCancelled(1), 130, "studio: error: cancelled"),
])
def test_final_events_map_to_exit_codes(final, code, message, tiny_model_dir, tmp_path,
                                        capsys, monkeypatch):
    _fake_engine(monkeypatch, [JobQueued(1, None), JobStarted(1, None), final])
    assert _generate(tiny_model_dir, tmp_path) == code
    assert message in capsys.readouterr().err
    assert _FakeBackend.last.calls == ["start", "shutdown"]


def test_ctrl_c_cancels_the_job_and_exits_130(tiny_model_dir, tmp_path, capsys, monkeypatch):
    _fake_engine(monkeypatch, [JobQueued(7, None), JobStarted(7, None),
                               JobProgress(7, 1, 4)], raise_after=True)
    assert _generate(tiny_model_dir, tmp_path) == 130
    assert "studio: error: interrupted" in capsys.readouterr().err
    assert _FakeBackend.last.calls == ["start", ("cancel", 7), "shutdown"]


def test_progress_goes_to_stderr_and_saved_paths_to_stdout(tiny_model_dir, tmp_path, capsys,
                                                           monkeypatch):
    image = Image.new("RGB", (8, 8))
    request = GenerateRequest("m")
    saved = ImageResult(1, 0, image, request, "", tmp_path / "saved.png")
    failed = ImageResult(1, 1, image, request, "", tmp_path / "elsewhere.png",
                         "could not write x (No space left on device); saved to y instead")
    _fake_engine(monkeypatch, [JobQueued(1, None), JobStarted(1, None), JobProgress(1, 3, 3),
                               JobResult(1, saved), JobResult(1, failed),
                               JobFinished(1, (saved, failed))])
    assert _generate(tiny_model_dir, tmp_path) == 1  # an image missed its destination
    captured = capsys.readouterr()
    assert captured.out.split() == [str(tmp_path / "saved.png"), str(tmp_path / "elsewhere.png")]
    assert "3/3" in captured.err and "seed 0" in captured.err
    assert "studio: error: could not write x (No space left on device); saved to y" in captured.err


def test_out_of_memory_in_the_engine_is_a_clear_error(tiny_model_dir, tmp_path, capsys,
                                                      monkeypatch):
    import torch

    def oom(*args: object, **kwargs: object) -> None:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr("studio.engine.runner.GenerationRunner.run_one", oom)
    assert _generate(tiny_model_dir, tmp_path) == 1
    captured = capsys.readouterr()
    assert "studio: error: Out of memory. Try a smaller size" in captured.err
    assert "Traceback" not in captured.err and captured.out == ""
    assert not (tmp_path / "x.png").exists()


def test_a_destination_failing_after_the_work_saves_elsewhere(tiny_model_dir, tmp_path, capsys,
                                                              monkeypatch):
    from studio.core import outputs

    out = tmp_path / "out"
    out.mkdir()
    real = outputs.write_temp_png

    def disk_full_in_out(image: Image.Image, folder: Path, infotext: str | None) -> Path:
        if Path(folder) == out:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(image, folder, infotext)

    monkeypatch.setenv("STUDIO_DATA", str(tmp_path / "data"))
    monkeypatch.setattr("studio.commands.path_saver.write_temp_png", disk_full_in_out)
    argv = [*command_args("generate", tmp_path, tiny_model_dir), "--output", str(out / "x.png")]
    assert main(argv) == 1
    captured = capsys.readouterr()
    kept = tmp_path / "data" / "unsaved" / "x.png"
    assert (f"studio: error: could not write {out / 'x.png'} (No space left on device); "
            f"saved to {kept} instead") in captured.err
    assert captured.out.split() == [str(kept)]
    assert "Seed: 0" in read_parameters(kept)


def _plan(target: Path, fallbacks: tuple[Path, ...], **extra: object) -> OutputPlan:
    return OutputPlan((Target(target),), fallback_dirs=fallbacks, **extra)  # type: ignore[arg-type]


def _broken_destinations(tmp: Path) -> dict[str, Path]:
    (tmp / "file").write_text("x")
    return {
        "parent-became-a-file": tmp / "file" / "x.png",
        "nul-in-name": tmp / "x\0.png",
        "name-too-long": tmp / ("n" * 300 + ".png"),
        "folder-name-too-long": tmp / ("f" * 300) / "x.png",
    }


@pytest.mark.parametrize("case", ["parent-became-a-file", "nul-in-name", "name-too-long",
                                  "folder-name-too-long"])
def test_saver_falls_back_when_the_destination_breaks_after_the_check(case, tmp_path):
    wanted = _broken_destinations(tmp_path)[case]
    saver = PathSaver(_plan(wanted, (tmp_path / "unsaved",)))
    result = saver.save(1, 0, Image.new("RGB", (8, 8), "red"), GenerateRequest("m", seed=5))
    assert result.path is not None and result.path.parent == tmp_path / "unsaved"
    assert result.save_error.startswith(f"could not write {wanted} (")
    assert result.save_error.endswith(f"saved to {result.path} instead")
    assert "Seed: 5" in read_parameters(result.path)


def test_saver_says_so_when_nothing_can_be_written(tmp_path):
    (tmp_path / "file").write_text("x")
    blocked = (tmp_path / "file" / "a", tmp_path / "file" / "b")
    saver = PathSaver(_plan(tmp_path / "file" / "x.png", blocked))
    result = saver.save(1, 0, Image.new("RGB", (8, 8)), GenerateRequest("m"))
    assert result.path is None
    assert "could not be saved anywhere else either" in result.save_error


def test_savers_racing_for_the_same_names_keep_every_image(tmp_path):
    images = [Image.new("RGB", (8, 8), (i * 20, 0, 0)) for i in range(8)]
    results: list[ImageResult] = []
    lock = threading.Lock()

    def run(index: int) -> None:
        saver = PathSaver(OutputPlan(batch_targets(tmp_path / "x.png", 2)))
        for image_index in range(2):
            result = saver.save(1, image_index, images[index], GenerateRequest("m", seed=index))
            with lock:
                results.append(result)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    paths = [r.path for r in results]
    assert all(r.save_error is None for r in results)
    assert len(set(paths)) == 16 and set(tmp_path.glob("x-*.png")) == set(paths)
    for result in results:
        with Image.open(result.path) as saved:
            assert saved.getpixel((0, 0)) == result.image.getpixel((0, 0))


def test_overwrite_plan_refuses_an_input_even_at_save_time(tmp_path):
    source, _ = write_inputs(tmp_path)
    original = source.read_bytes()
    saver = PathSaver(_plan(source, (tmp_path / "unsaved",), overwrite=True,
                            protected=(source,)))
    result = saver.save(1, 0, Image.new("RGB", (8, 8)), GenerateRequest("m"))
    assert source.read_bytes() == original
    assert result.path == tmp_path / "unsaved" / "in.png" and "is an input" in result.save_error
