"""Tiny random LoRAs for the tiny test models, in the diffusers/PEFT and the kohya layout."""

from __future__ import annotations

from pathlib import Path

_ATTENTION = ("attn1.to_q", "attn1.to_k", "attn1.to_v", "attn1.to_out.0",
              "attn2.to_q", "attn2.to_k", "attn2.to_v", "attn2.to_out.0")
_TEXT = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.out_proj")


def _linears(model: object, suffixes: tuple[str, ...]) -> dict[str, tuple[int, int]]:
    """Module name -> (out, in) features for the model's Linear layers ending in `suffixes`."""
    import torch

    return {name: (m.out_features, m.in_features) for name, m in model.named_modules()  # type: ignore[attr-defined]
            if isinstance(m, torch.nn.Linear) and name.endswith(suffixes)}


def _pair(shape: tuple[int, int], rank: int, scale: float, generator) -> tuple:  # noqa: ANN001
    import torch

    out, inp = shape
    down = torch.randn(rank, inp, generator=generator) * scale
    up = torch.randn(out, rank, generator=generator) * scale
    return down, up


def build_diffusers_lora(model_dir: Path, target: Path, seed: int = 1, rank: int = 4,
                         scale: float = 0.5, widen: int = 0) -> Path:
    """A PEFT-format LoRA (`unet.….lora_A.weight` / `lora_B`) for the model's UNet attention.

    `widen` > 0 makes every input dimension wrong (a LoRA for another architecture).
    """
    import torch
    from diffusers import UNet2DConditionModel
    from safetensors.torch import save_file

    unet = UNet2DConditionModel.from_pretrained(model_dir / "unet")
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for name, (out, inp) in _linears(unet, _ATTENTION).items():
        down, up = _pair((out, inp + widen), rank, scale, generator)
        state[f"unet.{name}.lora_A.weight"] = down.contiguous()
        state[f"unet.{name}.lora_B.weight"] = up.contiguous()
    target.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(target))
    return target


def build_kohya_lora(model_dir: Path, target: Path, seed: int = 2, rank: int = 4,
                     scale: float = 0.5, text_encoder: bool = True) -> Path:
    """A kohya/A1111-format LoRA: `lora_unet_…`/`lora_te_…` with lora_down/lora_up/alpha."""
    import torch
    from diffusers import UNet2DConditionModel
    from safetensors.torch import save_file
    from transformers import CLIPTextModel

    generator = torch.Generator().manual_seed(seed)
    models = [("lora_unet", UNet2DConditionModel.from_pretrained(model_dir / "unet"), _ATTENTION)]
    if text_encoder:
        models.append(("lora_te", CLIPTextModel.from_pretrained(model_dir / "text_encoder"),
                       _TEXT))
    state = {}
    for prefix, model, suffixes in models:
        for name, shape in _linears(model, suffixes).items():
            key = f"{prefix}_{name.replace('.', '_')}"
            down, up = _pair(shape, rank, scale, generator)
            state[f"{key}.lora_down.weight"] = down.contiguous()
            state[f"{key}.lora_up.weight"] = up.contiguous()
            state[f"{key}.alpha"] = torch.tensor(float(rank))
    target.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(target), metadata={"ss_network_module": "networks.lora"})
    return target
