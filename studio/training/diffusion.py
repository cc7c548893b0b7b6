"""DDPM pieces: the forward process, the noise-prediction loss and a guided sampler."""

from __future__ import annotations

from collections.abc import Callable

import torch
from diffusers import (
    DDIMScheduler,
    DDPMScheduler,
    DPMSolverMultistepScheduler,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
)
from diffusers.schedulers.scheduling_utils import SchedulerMixin

NUM_TRAIN_TIMESTEPS = 1000
SCHEDULER_KWARGS = {
    "num_train_timesteps": NUM_TRAIN_TIMESTEPS,
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
}
SCHEDULERS: dict[str, type[SchedulerMixin]] = {
    "ddpm": DDPMScheduler,
    "ddim": DDIMScheduler,
    "euler": EulerDiscreteScheduler,
    "euler_a": EulerAncestralDiscreteScheduler,
    "dpm++": DPMSolverMultistepScheduler,
}


def training_scheduler() -> DDPMScheduler:
    """The T=1000 DDPM schedule used for training (Stable Diffusion's scaled-linear betas)."""
    return DDPMScheduler(**SCHEDULER_KWARGS, clip_sample=False)


def make_scheduler(name: str) -> SchedulerMixin:
    """A sampling scheduler sharing the training betas (steps_offset 1, as in SD's configs)."""
    extra: dict[str, object] = {"steps_offset": 1}
    if name in ("ddpm", "ddim"):
        extra["clip_sample"] = False
    if name == "ddim":
        extra["set_alpha_to_one"] = False
    return SCHEDULERS[name](**SCHEDULER_KWARGS, **extra)


def forward_moments(
    scheduler: DDPMScheduler, x0: torch.Tensor, t: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Closed-form mean sqrt(abar_t) x0 and variance 1 - abar_t of q(x_t | x0)."""
    abar = scheduler.alphas_cumprod.to(x0.device)[t].float()
    shape = (-1,) + (1,) * (x0.dim() - 1)
    return abar.sqrt().view(shape) * x0, (1 - abar).view(shape).expand_as(x0)


def ddpm_loss(
    denoiser: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    scheduler: DDPMScheduler,
    x0: torch.Tensor,
    generator: torch.Generator,
    snr_gamma: float = 0.0,
) -> torch.Tensor:
    """MSE between predicted and true noise at uniformly sampled timesteps.

    ``snr_gamma`` > 0 weights each sample by min(SNR_t, gamma) / SNR_t (Min-SNR, Hang et al.
    2023): easy low-noise steps count less, so the global shape is learned sooner.
    """
    t = torch.randint(0, scheduler.config.num_train_timesteps, (x0.shape[0],), generator=generator)
    noise = torch.randn(x0.shape, generator=generator)
    t, noise = t.to(x0.device), noise.to(x0.device, x0.dtype)
    noisy = scheduler.add_noise(x0, noise, t)
    prediction = denoiser(noisy, t)
    if snr_gamma <= 0:
        return torch.nn.functional.mse_loss(prediction.float(), noise.float())
    per_sample = (prediction.float() - noise.float()).pow(2).flatten(1).mean(1)
    return (per_sample * min_snr_weights(scheduler, t, snr_gamma)).mean()


def min_snr_weights(scheduler: DDPMScheduler, t: torch.Tensor, gamma: float) -> torch.Tensor:
    """min(SNR_t, gamma) / SNR_t for noise prediction, SNR_t = abar_t / (1 - abar_t)."""
    abar = scheduler.alphas_cumprod.to(t.device)[t].float()
    snr = abar / (1 - abar)
    return snr.clamp(max=gamma) / snr


@torch.no_grad()
def sample(
    denoiser: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
    cond: torch.Tensor,
    uncond: torch.Tensor,
    shape: tuple[int, ...],
    scheduler: SchedulerMixin,
    steps: int = 25,
    guidance: float = 3.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Classifier-free guided sampling; ``denoiser(x, t, embeddings)`` predicts noise."""
    scheduler.set_timesteps(steps)
    x = torch.randn(shape, generator=generator).to(cond.device) * scheduler.init_noise_sigma
    embeddings = torch.cat([uncond.expand_as(cond), cond])
    for t in scheduler.timesteps:
        model_in = scheduler.scale_model_input(torch.cat([x, x]), t)
        eps_u, eps_c = denoiser(model_in, t.expand(2 * shape[0]).to(x.device), embeddings).chunk(2)
        eps = eps_u + guidance * (eps_c - eps_u)
        x = scheduler.step(eps, t, x, generator=generator).prev_sample
    return x
