"""Text-to-image DDPM trainer: CLIP-style text encoder + UNet2DConditionModel, trained jointly.

Works on any folder of images: with a VAE the UNet learns latents (Stable Diffusion layout),
without one it learns pixels. Captions come from sidecar ``.txt`` files (or none: unconditioned).
"""

from __future__ import annotations

import json
import math
import shutil
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from tqdm import tqdm

from studio.training.common import (
    EMA,
    JsonlLog,
    configure_cpu,
    image_grid,
    load_checkpoint,
    load_image_folder,
    save_checkpoint,
    step_generator,
    tensor_to_pil,
)
from studio.training.diffusion import ddpm_loss, make_scheduler, sample, training_scheduler
from studio.training.text import build_text_encoder, build_tokenizer, tokenize


@dataclass
class TrainConfig:
    """Everything that defines a run; stored in each checkpoint and in config.json."""

    data: str = "data/emoji"
    out: str = "runs/emoji-sd"
    vae: str | None = "runs/vae/vae"
    size: int = 64
    channels: tuple[int, ...] = (64, 128, 192)
    attention: tuple[bool, ...] = (True, True, False)
    layers_per_block: int = 1
    head_dim: int = 32
    text_hidden: int = 128
    text_layers: int = 3
    max_length: int = 32
    vocab_size: int = 4096
    batch_size: int = 32
    lr: float = 5e-4
    warmup: int = 200
    max_steps: int = 6000
    max_minutes: float = 0.0
    ema_decay: float = 0.999
    cond_drop: float = 0.1
    snr_gamma: float = 0.0  # Min-SNR loss weighting; 0 = plain noise MSE
    grad_clip: float = 1.0
    seed: int = 0
    threads: int = 1
    checkpoint_every: int = 250
    sample_every: int = 500
    sample_steps: int = 25
    guidance: float = 3.0
    device: str = "auto"
    captions: list[str] = field(default_factory=list)
    init_from: str | None = None  # warm start from an exported SD-layout folder (fresh optimizer)


def build_unet(config: TrainConfig, in_channels: int, sample_size: int) -> UNet2DConditionModel:
    """A small UNet2DConditionModel; cross-attention dim = text hidden size."""
    down = tuple("CrossAttnDownBlock2D" if a else "DownBlock2D" for a in config.attention)
    up = tuple("CrossAttnUpBlock2D" if a else "UpBlock2D" for a in reversed(config.attention))
    heads = tuple(max(1, c // config.head_dim) for c in config.channels)
    return UNet2DConditionModel(
        sample_size=sample_size,
        in_channels=in_channels,
        out_channels=in_channels,
        down_block_types=down,
        up_block_types=up,
        block_out_channels=tuple(config.channels),
        layers_per_block=config.layers_per_block,
        cross_attention_dim=config.text_hidden,
        attention_head_dim=heads,
        norm_num_groups=min(32, config.channels[0]),
    )


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


class Trainer:
    """Owns the models, optimizer, EMA and data of one run; ``train()`` resumes if possible."""

    def __init__(self, config: TrainConfig) -> None:
        configure_cpu(config.threads)
        torch.manual_seed(config.seed)
        self.config = config
        self.out = Path(config.out)
        self.device = resolve_device(config.device)
        self.scheduler = training_scheduler()
        self._load_data()
        if config.init_from:
            self._warm_start(Path(config.init_from))
        else:
            self.tokenizer = build_tokenizer(
                self.captions, self.out / "tokenizer", config.vocab_size, config.max_length
            )
            self.text_encoder = build_text_encoder(
                self.tokenizer, config.text_hidden, config.text_layers
            )
            channels, side = self.latent_mean.shape[1], self.latent_mean.shape[-1]
            self.unet = build_unet(config, channels, side)
        self.text_encoder = self.text_encoder.to(self.device)
        self.unet = self.unet.to(self.device)
        self.ids = tokenize(self.tokenizer, self.captions)
        self.empty_ids = tokenize(self.tokenizer, [""])
        params = [*self.unet.parameters(), *self.text_encoder.parameters()]
        self.optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=1e-2)
        self.ema_unet = EMA(self.unet, config.ema_decay)
        self.ema_text = EMA(self.text_encoder, config.ema_decay)
        self.step = 0

    def _warm_start(self, folder: Path) -> None:
        """Tokenizer, text encoder and UNet from an exported model (e.g. the shipped emoji-sd)."""
        from transformers import CLIPTextModel, CLIPTokenizer

        self.tokenizer = CLIPTokenizer.from_pretrained(folder / "tokenizer")
        # the folder as shipped (vocab.json + merges.txt too): a later export copies them
        shutil.copytree(folder / "tokenizer", self.out / "tokenizer", dirs_exist_ok=True)
        self.text_encoder = CLIPTextModel.from_pretrained(folder / "text_encoder").float()
        self.unet = UNet2DConditionModel.from_pretrained(folder / "unet").float()

    @torch.no_grad()
    def _load_data(self) -> None:
        """Load images and encode them once with the (frozen) VAE, if one is used."""
        cfg = self.config
        data = load_image_folder(Path(cfg.data), cfg.size)
        self.images, self.captions = data.images, data.captions
        self.vae: AutoencoderKL | None = None
        if cfg.vae is None:
            self.latent_mean, self.latent_std = data.images, torch.zeros_like(data.images)
            return
        self.vae = AutoencoderKL.from_pretrained(cfg.vae).eval()
        scale = self.vae.config.scaling_factor
        means, stds = [], []
        for i in range(0, len(data.images), 64):
            dist = self.vae.encode(data.images[i : i + 64]).latent_dist
            means.append(dist.mean * scale)
            stds.append(dist.std * scale)
        self.latent_mean, self.latent_std = torch.cat(means), torch.cat(stds)

    def lr_at(self, step: int) -> float:
        """Linear warm-up, then cosine decay to 10% at ``max_steps``."""
        cfg = self.config
        if step < cfg.warmup:
            return cfg.lr * (step + 1) / cfg.warmup
        progress = min(1.0, (step - cfg.warmup) / max(1, cfg.max_steps - cfg.warmup))
        return cfg.lr * (0.1 + 0.45 * (1 + math.cos(math.pi * progress)))

    def _batch(self, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        cfg = self.config
        idx = torch.randint(len(self.latent_mean), (cfg.batch_size,), generator=gen)
        eps = torch.randn(self.latent_mean[idx].shape, generator=gen)
        x0 = self.latent_mean[idx] + self.latent_std[idx] * eps
        drop = torch.rand(cfg.batch_size, generator=gen) < cfg.cond_drop
        ids = torch.where(drop[:, None], self.empty_ids, self.ids[idx])
        return x0.to(self.device), ids.to(self.device)

    def train_step(self) -> float:
        """One optimisation step (deterministic given seed and step)."""
        gen = step_generator(self.config.seed, self.step)
        x0, ids = self._batch(gen)
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr_at(self.step)
        autocast = (
            torch.autocast("cuda", dtype=torch.bfloat16)
            if self.device.type == "cuda"
            else nullcontext()
        )
        with autocast:
            emb = self.text_encoder(ids)[0]
            loss = ddpm_loss(
                lambda x, t: self.unet(x, t, emb).sample, self.scheduler, x0, gen,
                self.config.snr_gamma,
            )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.trainable_parameters(), self.config.grad_clip)
        self.optimizer.step()
        self.step += 1
        self.update_ema()
        return loss.item()

    def trainable_parameters(self) -> list[torch.nn.Parameter]:
        """The parameters the optimizer updates (all of both models; a LoRA run: its adapters)."""
        models = (self.unet, self.text_encoder)
        return [p for model in models for p in model.parameters() if p.requires_grad]

    def update_ema(self) -> None:
        self.ema_unet.update(self.unet, self.step)
        self.ema_text.update(self.text_encoder, self.step)

    def state(self) -> dict:
        return {
            "step": self.step,
            "unet": self.unet.state_dict(),
            "text_encoder": self.text_encoder.state_dict(),
            "ema_unet": self.ema_unet.model.state_dict(),
            "ema_text": self.ema_text.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "config": asdict(self.config),
        }

    def save(self) -> None:
        save_checkpoint(self.out / "checkpoint.pt", self.state())

    def resume(self) -> bool:
        """Load ``checkpoint.pt`` from the run folder if present."""
        state = load_checkpoint(self.out / "checkpoint.pt")
        if state is None:
            return False
        self.unet.load_state_dict(state["unet"])
        self.text_encoder.load_state_dict(state["text_encoder"])
        self.ema_unet.model.load_state_dict(state["ema_unet"])
        self.ema_text.model.load_state_dict(state["ema_text"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step = state["step"]
        return True

    def train(self, steps: int | None = None) -> list[float]:
        """Train up to ``max_steps`` (or ``steps`` more), checkpointing and sampling as set."""
        cfg = self.config
        target = cfg.max_steps if steps is None else self.step + steps
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "config.json").write_text(json.dumps(asdict(cfg), indent=2))
        log, losses = JsonlLog(self.out / "log.jsonl"), []
        deadline = log.start + cfg.max_minutes * 60 if cfg.max_minutes > 0 else math.inf
        bar = tqdm(total=target, initial=self.step, desc="train", dynamic_ncols=True)
        while self.step < target:
            losses.append(self.train_step())
            bar.update(1)
            bar.set_postfix(loss=f"{losses[-1]:.4f}")
            log.write(step=self.step, loss=round(losses[-1], 6), lr=self.lr_at(self.step - 1))
            stop = log.time_now() > deadline
            if self.step % cfg.checkpoint_every == 0 or self.step == target or stop:
                self.save()
            if cfg.sample_every and (self.step % cfg.sample_every == 0 or self.step == target):
                self.sample_grid().save(self.out / "samples" / f"step{self.step:06d}.png")
            if stop:
                break
        bar.close()
        return losses

    def sample_captions(self, count: int = 8) -> list[str]:
        if self.config.captions:
            return list(self.config.captions)
        stride = max(1, len(self.captions) // count)
        return [self.captions[i] for i in range(0, len(self.captions), stride)][:count]

    @torch.no_grad()
    def generate(
        self, captions: list[str], seed: int = 0, steps: int | None = None,
        scheduler: str = "ddpm", guidance: float | None = None,
    ) -> list:
        """Sample images with the EMA weights (PIL images)."""
        cfg = self.config
        text, unet = self.sampling_models()
        cond = text(tokenize(self.tokenizer, captions).to(self.device))[0]
        uncond = text(self.empty_ids.to(self.device))[0]
        shape = (len(captions), *self.latent_mean.shape[1:])
        latents = sample(
            lambda x, t, e: unet(x, t, e).sample, cond, uncond, shape, make_scheduler(scheduler),
            steps or cfg.sample_steps, cfg.guidance if guidance is None else guidance,
            torch.Generator().manual_seed(seed),
        )
        images = self.decode(latents)
        return [tensor_to_pil(x) for x in images]

    def sampling_models(self) -> tuple[torch.nn.Module, torch.nn.Module]:
        """The text encoder and UNet that samples come from (the EMA copies)."""
        return self.ema_text.model, self.ema_unet.model

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        if self.vae is None:
            return latents.cpu()
        return self.vae.decode(latents.cpu() / self.vae.config.scaling_factor).sample

    def sample_grid(self, seeds: tuple[int, ...] = (0, 1)) -> object:
        captions = self.sample_captions()
        self.out.joinpath("samples").mkdir(parents=True, exist_ok=True)
        images = [im for seed in seeds for im in self.generate(captions, seed)]
        return image_grid(images, columns=len(captions))
