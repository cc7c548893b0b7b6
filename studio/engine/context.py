"""Everything the worker thread owns: device plan, pipeline cache, runners, job handlers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from studio.engine.device import DevicePlan, apply_threads, plan_device
from studio.engine.pipelines import PipelineCache
from studio.engine.runner import GenerationRunner

# handler(job_id, request, ctx, control, events, saver) -> list[ImageResult]
JobHandler = Callable[..., list]


@dataclass
class EngineContext:
    """Owned by the worker thread; handlers find their runners and caches here."""

    plan: DevicePlan
    cache: PipelineCache
    generation: GenerationRunner
    handlers: dict[type, JobHandler] = field(default_factory=dict)
    caches: dict[str, object] = field(default_factory=dict)  # per-feature model caches

    @classmethod
    def create(cls, plan: DevicePlan | None = None, max_preview_fps: float = 15.0,
               set_threads: bool = True) -> EngineContext:
        """The standard context with every job kind registered."""
        from studio.core.requests import GenerateRequest
        from studio.engine.jobs import run_generate

        plan = plan or plan_device()
        if set_threads:
            apply_threads(plan)
        cache = PipelineCache(plan)
        ctx = cls(plan, cache, GenerationRunner(cache, max_preview_fps))
        ctx.handlers[GenerateRequest] = run_generate
        from studio.core.upscale import UpscaleRequest
        from studio.engine.upscale_job import run_upscale

        ctx.handlers[UpscaleRequest] = run_upscale
        from studio.engine.explore import register as register_explore

        register_explore(ctx)
        from studio.core.train_request import LoraTrainRequest, TrainRequest
        from studio.engine.train_job import run_train, run_train_lora

        ctx.handlers[TrainRequest] = run_train
        ctx.handlers[LoraTrainRequest] = run_train_lora
        return ctx
