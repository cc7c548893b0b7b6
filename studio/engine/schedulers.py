"""A1111 sampler names mapped onto diffusers schedulers."""

from __future__ import annotations

from typing import Any

from studio.core.requests import SCHEDULER_NAMES

# name -> (diffusers class name, config overrides)
_SCHEDULERS: dict[str, tuple[str, dict[str, Any]]] = {
    "Euler a": ("EulerAncestralDiscreteScheduler", {}),
    "Euler": ("EulerDiscreteScheduler", {}),
    "DDIM": ("DDIMScheduler", {}),
    "DDPM": ("DDPMScheduler", {}),
    "DPM++ 2M": ("DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++"}),
    "DPM++ 2M Karras": (
        "DPMSolverMultistepScheduler",
        {"algorithm_type": "dpmsolver++", "use_karras_sigmas": True},
    ),
    # stochastic DPM-Solver++ (A1111 "DPM++ 2M SDE"); needs no torchsde, uses the job's generator
    "DPM++ 2M SDE": ("DPMSolverMultistepScheduler", {"algorithm_type": "sde-dpmsolver++"}),
    "DPM++ 2M SDE Karras": (
        "DPMSolverMultistepScheduler",
        {"algorithm_type": "sde-dpmsolver++", "use_karras_sigmas": True},
    ),
    "UniPC": ("UniPCMultistepScheduler", {}),
    "LCM": ("LCMScheduler", {}),  # LCM-distilled and Turbo-style few-step models
}
assert set(_SCHEDULERS) == set(SCHEDULER_NAMES)


def make_scheduler(name: str, base_config: dict[str, Any]):  # noqa: ANN201
    """A fresh scheduler of the named kind, built from the model's scheduler config.

    The model's `prediction_type` (epsilon / v_prediction) and `timestep_spacing` (e.g.
    "trailing" for Turbo models) are kept, so SD 2.x v-models and few-step models stay right.
    """
    import diffusers

    if name not in _SCHEDULERS:
        raise ValueError(f"unknown scheduler {name!r}; choose one of: {', '.join(_SCHEDULERS)}")
    class_name, overrides = _SCHEDULERS[name]
    cls = getattr(diffusers, class_name)
    config = {k: v for k, v in dict(base_config).items() if not k.startswith("_")}
    if class_name != "DPMSolverMultistepScheduler":
        config.pop("algorithm_type", None)
    config.pop("use_karras_sigmas", None)
    config.update(overrides)
    return cls.from_config(config)


def scheduler_class_name(name: str) -> str:
    return _SCHEDULERS[name][0]
