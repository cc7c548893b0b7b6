"""Training as an engine job: the Train tab's runs, on the engine thread, reported as events."""

from __future__ import annotations

from pathlib import Path

from studio.core.records import ImageResult, ResultSaver
from studio.core.train_request import (
    LoraDone,
    LoraTrainRequest,
    TrainDone,
    TrainRequest,
    TrainSample,
    TrainStep,
)
from studio.engine.explore import emit_data
from studio.engine.runner import JobCancelled, JobControl


def run_train(job_id: int, request: TrainRequest, ctx, control: JobControl,  # noqa: ANN001
              events, saver: ResultSaver) -> list[ImageResult]:
    """Train, streaming each step's loss and sample grids; cancel exports nothing."""
    from studio.training.session import TrainSession, session_config

    data = _folder(request.data_dir)
    vae = Path(request.vae_path)
    if not (vae / "config.json").is_file():
        raise ValueError("the selected model has no VAE folder to reuse; pick a latent model")
    models = Path(request.models_dir)
    config = session_config(data, models / ".runs" / request.name, vae, request.preset,
                            request.steps, request.size, **dict(request.overrides))
    session = TrainSession(config, models / request.name)
    events.engine_status("Loading images and encoding them with the VAE…")
    return _run_session(session, TrainDone, job_id, control, events)


def run_train_lora(job_id: int, request: LoraTrainRequest, ctx,  # noqa: ANN001
                   control: JobControl, events, saver: ResultSaver) -> list[ImageResult]:
    """Train a LoRA for the selected model; the file is written only when the run ends."""
    from studio.training.lora import LoraSession, LoraTrainConfig, check_model

    data, model = _folder(request.data_dir), Path(request.model_path)
    if not (model / "unet" / "config.json").is_file():
        raise ValueError(f"{model.name}: LoRA training needs a diffusers model folder "
                         "(unet/, text_encoder/, vae/); choose one in the model picker")
    check_model(model)
    loras = Path(request.loras_dir)
    values = dict(data=str(data), out=str(loras / f"{request.name}.safetensors"),
                  model=str(model), steps=request.steps, rank=request.rank,
                  caption=request.caption, text_encoder=request.text_encoder, threads=0,
                  work=str(loras / ".runs" / request.name),
                  device=ctx.plan.device)
    values.update(dict(request.overrides))
    session = LoraSession(LoraTrainConfig(**values))  # type: ignore[arg-type]
    events.engine_status("Loading images and encoding them with the model's VAE…")
    return _run_session(session, LoraDone, job_id, control, events)


def _folder(text: str) -> Path:
    data = Path(text)
    if not data.is_dir():
        raise ValueError(f"{data} is not a folder of images")
    return data


def _run_session(session, outcome: type, job_id: int, control: JobControl,  # noqa: ANN001
                 events) -> list[ImageResult]:
    """Run `session`: each step's loss and progress, sample grids, pause and cancel; then
    `outcome(steps, output path or None)` goes to the GUI. A cancelled run ends cancelled."""

    def on_step(step: int, total: int, loss: float) -> None:
        if control.cancel.is_set() or control.keep.is_set():
            session.cancel()
        control.wait_if_paused()
        emit_data(events, job_id, TrainStep(step, total, loss))
        events.job_progress(job_id, step, total)

    def on_sample(step: int, image: object) -> None:
        emit_data(events, job_id, TrainSample(step, image))

    result = session.run(on_step, on_sample)
    output = str(result.model_dir) if result.model_dir else None
    emit_data(events, job_id, outcome(result.steps, output))
    if output is None and control.cancel.is_set():
        raise JobCancelled()
    return []
