"""LoRA training: adapters on a diffusers model's attention, trained by the same `Trainer`.

`studio train lora --data DIR --model M --out NAME.safetensors` warm-starts the Trainer from
the model folder (its tokenizer, text encoder and UNet; its VAE encodes the images once), puts
PEFT LoRA adapters on the UNet's attention projections (to_q, to_k, to_v, to_out.0; with
`text_encoder` also the text encoder's q/k/v/out_proj), freezes everything else and runs the
Trainer's own loop: the same batches, DDPM noise schedule and (Min-SNR) noise loss, no EMA.

The file is in the diffusers/PEFT layout (`unet.<module>.lora_A.weight` / `lora_B`, and
`text_encoder.…`) with alpha = rank, so `<lora:NAME:1>` applies it exactly as trained. It is
rewritten (atomically) every `save_every` steps, so a stopped run leaves a usable file.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from studio.training.session import TrainSession
from studio.training.trainer import TrainConfig, Trainer

UNET_TARGETS = ("to_q", "to_k", "to_v", "to_out.0")
TEXT_TARGETS = ("q_proj", "k_proj", "v_proj", "out_proj")
BUILTIN_MODEL = Path(__file__).resolve().parents[2] / "resources" / "models" / "emoji-sd"


@dataclass
class LoraTrainConfig:
    """One LoRA run: the images, the base model, the output file and the few knobs."""

    data: str
    out: str  # NAME.safetensors: `<lora:NAME:1>` once it is in a LoRA folder
    model: str = str(BUILTIN_MODEL)
    steps: int = 400
    rank: int = 4
    lr: float = 1e-3
    size: int = 0  # 0: the model's native size
    batch_size: int = 8
    text_encoder: bool = False
    caption: str = ""  # for images without a .txt sidecar
    snr_gamma: float = 5.0
    seed: int = 0
    threads: int = 1
    save_every: int = 100
    work: str = ""  # run folder (config.json, log.jsonl); "" = runs/lora/NAME
    device: str = "auto"

    def train_config(self) -> TrainConfig:
        """The Trainer's config: a warm start from the model, latents from its VAE."""
        model = Path(self.model)
        work = self.work or str(Path("runs") / "lora" / Path(self.out).stem)
        return TrainConfig(
            data=self.data, out=work, vae=str(model / "vae"), size=self.size or native_size(model),
            batch_size=self.batch_size, lr=self.lr, warmup=min(50, max(1, self.steps // 10)),
            max_steps=self.steps, snr_gamma=self.snr_gamma, seed=self.seed,
            threads=self.threads, checkpoint_every=max(1, self.save_every), sample_every=0,
            device=self.device, init_from=str(model),
        )


def native_size(model: Path) -> int:
    """The image size the model was trained at (UNet sample size x VAE scale)."""
    from studio.core.models import native_resolution

    size = native_resolution(model)
    if size is None:
        raise ValueError(f"{model}: not a diffusers model folder with unet/ and vae/ configs")
    return size


def check_model(model: Path) -> None:
    """Refuse models this trainer cannot match: it predicts noise (epsilon) with SD's betas."""
    config = model / "scheduler" / "scheduler_config.json"
    if not config.is_file():
        raise ValueError(f"{model}: no scheduler/scheduler_config.json (not a diffusers folder)")
    kind = json.loads(config.read_text(encoding="utf-8")).get("prediction_type", "epsilon")
    if kind != "epsilon":
        raise ValueError(f"{model}: predicts {kind!r}; LoRA training supports epsilon models")


class LoraTrainer(Trainer):
    """The Trainer with frozen base weights and LoRA adapters as its only parameters."""

    def __init__(self, config: LoraTrainConfig) -> None:
        check_model(Path(config.model))
        self.lora = config
        super().__init__(config.train_config())
        self.unet.requires_grad_(False)
        self.text_encoder.requires_grad_(False)
        _add_adapters(self.unet, config.rank, UNET_TARGETS)
        if config.text_encoder:
            _add_adapters(self.text_encoder, config.rank, TEXT_TARGETS)
        self.optimizer = torch.optim.AdamW(self.trainable_parameters(), lr=config.lr,
                                           weight_decay=0.0)

    def _load_data(self) -> None:
        super()._load_data()
        self.captions = [text or self.lora.caption for text in self.captions]

    def update_ema(self) -> None:
        """No EMA: the adapters are saved as trained."""

    def sampling_models(self) -> tuple[torch.nn.Module, torch.nn.Module]:
        """Samples show the model with the adapters as they are now."""
        return self.text_encoder, self.unet

    def lora_state(self) -> dict[str, torch.Tensor]:
        """The adapters in the diffusers/PEFT layout (`unet.…lora_A.weight`, …)."""
        from peft import get_peft_model_state_dict

        models = [("unet", self.unet)]
        if self.lora.text_encoder:
            models.append(("text_encoder", self.text_encoder))
        return {f"{prefix}.{key}": value.detach().float().cpu().contiguous()
                for prefix, model in models
                for key, value in get_peft_model_state_dict(model).items()}

    def save(self) -> None:
        """Write the LoRA file atomically (a temporary name, then a rename)."""
        from safetensors.torch import save_file

        out = Path(self.lora.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".tmp-{os.getpid()}-{out.name}")
        save_file(self.lora_state(), str(tmp), metadata=self.metadata())
        os.chmod(tmp, 0o644)  # safetensors creates it owner-only; it is a shareable file
        os.replace(tmp, out)

    def metadata(self) -> dict[str, str]:
        config = asdict(self.lora)
        config["model"] = Path(self.lora.model).name
        return {"format": "pt", "studio_lora": json.dumps(config), "studio_step": str(self.step)}


class LoraSession(TrainSession):
    """An in-app LoRA run: steps reported, pause/cancel; the file is written at the end only
    (a cancelled run writes nothing)."""

    def __init__(self, config: LoraTrainConfig, sample_every: int = 0,
                 sample_steps: int = 10) -> None:
        self.lora = config
        super().__init__(config.train_config(), Path(config.out), sample_every, sample_steps)

    def make_trainer(self) -> LoraTrainer:
        return LoraTrainer(self.lora)

    def keep_checkpoint(self, trainer: Trainer) -> None:
        """Nothing is kept: LoraTrainer.save would write the LoRA file."""

    def export(self, trainer: Trainer) -> Path:
        return Path(self.lora.out)  # written by trainer.save() at the end of the run


def _add_adapters(model: torch.nn.Module, rank: int, targets: tuple[str, ...]) -> None:
    """PEFT LoRA layers (trainable, B = 0: the model starts unchanged) on `targets`."""
    from peft import LoraConfig, inject_adapter_in_model

    config = LoraConfig(r=rank, lora_alpha=rank, init_lora_weights="gaussian",
                        target_modules=list(targets))
    inject_adapter_in_model(config, model)


def train_lora(config: LoraTrainConfig) -> tuple[Path, list[float]]:
    """Train and save; returns the file and the per-step losses."""
    trainer = LoraTrainer(config)
    losses = trainer.train()
    if not losses or not all(map(_finite, losses)):
        raise RuntimeError("LoRA training diverged (a loss is not finite)")
    return Path(config.out), losses


def _finite(value: float) -> bool:
    return value == value and abs(value) != float("inf")
