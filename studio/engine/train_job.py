"""Training as an engine job: the Train tab's run, on the engine thread, reported as events."""

from __future__ import annotations

from pathlib import Path

from studio.core.records import ImageResult, ResultSaver
from studio.core.train_request import TrainDone, TrainRequest, TrainSample, TrainStep
from studio.engine.explore import emit_data
from studio.engine.runner import JobCancelled, JobControl


def run_train(job_id: int, request: TrainRequest, ctx, control: JobControl,  # noqa: ANN001
              events, saver: ResultSaver) -> list[ImageResult]:
    """Train, streaming each step's loss and sample grids; cancel exports nothing."""
    from studio.training.session import TrainSession, session_config

    data = Path(request.data_dir)
    if not data.is_dir():
        raise ValueError(f"{data} is not a folder of images")
    vae = Path(request.vae_path)
    if not (vae / "config.json").is_file():
        raise ValueError("the selected model has no VAE folder to reuse; pick a latent model")
    models = Path(request.models_dir)
    config = session_config(data, models / ".runs" / request.name, vae, request.preset,
                            request.steps, request.size, **dict(request.overrides))
    session = TrainSession(config, models / request.name)
    events.engine_status("Loading images and encoding them with the VAE…")

    def on_step(step: int, total: int, loss: float) -> None:
        if control.cancel.is_set() or control.keep.is_set():
            session.cancel()
        control.wait_if_paused()
        emit_data(events, job_id, TrainStep(step, total, loss))
        events.job_progress(job_id, step, total)

    def on_sample(step: int, image: object) -> None:
        emit_data(events, job_id, TrainSample(step, image))

    result = session.run(on_step, on_sample)
    done = TrainDone(result.steps, str(result.model_dir) if result.model_dir else None)
    emit_data(events, job_id, done)
    if result.model_dir is None and control.cancel.is_set():
        raise JobCancelled()
    return []
