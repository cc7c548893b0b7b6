"""Tiny random-weight pipelines of each supported architecture, built offline from configs.

SD 2.x v-prediction, SDXL (two text encoders), a 9-channel inpainting UNet, an LCM model
and an x4 upscaler folder (which the registry must not list as a generator).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.tiny_models import build_char_tokenizer, build_tiny_sd


def _edit_json(path: Path, **changes: object) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def build_tiny_sd2v(folder: Path, base: Path) -> Path:
    """SD 2.x style: v-prediction and trailing timesteps in the scheduler config."""
    target = folder / "tiny-sd2-v"
    shutil.copytree(base, target)
    _edit_json(target / "scheduler" / "scheduler_config.json",
               prediction_type="v_prediction", timestep_spacing="trailing")
    return target


def build_tiny_lcm(folder: Path, base: Path) -> Path:
    """An LCM-distilled-style folder: LCMScheduler in model_index and scheduler config."""
    target = folder / "tiny-lcm"
    shutil.copytree(base, target)
    _edit_json(target / "scheduler" / "scheduler_config.json", _class_name="LCMScheduler")
    _edit_json(target / "model_index.json", scheduler=["diffusers", "LCMScheduler"])
    return target


def build_tiny_inpaint(folder: Path, base: Path, name: str = "tiny-sd-inpaint") -> Path:
    """A 9-channel (latents + mask + masked-image latents) inpainting copy of `base`.

    `base` may be an SD 1.x/2.x folder (-> StableDiffusionInpaintPipeline) or an SDXL one
    (-> StableDiffusionXLInpaintPipeline).
    """
    import torch
    from diffusers import UNet2DConditionModel

    target = folder / name
    shutil.copytree(base, target)
    config = json.loads((target / "unet" / "config.json").read_text())
    config["in_channels"] = 9
    torch.manual_seed(1)
    UNet2DConditionModel.from_config(config).save_pretrained(target / "unet")
    index = json.loads((target / "model_index.json").read_text())
    xl = "XL" in index["_class_name"]
    _edit_json(target / "model_index.json", _class_name="StableDiffusionXLInpaintPipeline"
               if xl else "StableDiffusionInpaintPipeline")
    return target


def build_tiny_upscaler(folder: Path) -> Path:
    target = folder / "tiny-x4-upscaler"
    target.mkdir(parents=True)
    (target / "model_index.json").write_text(
        json.dumps({"_class_name": "StableDiffusionUpscalePipeline"}))
    return target


def build_tiny_sdxl(folder: Path, seed: int = 0) -> Path:
    """A tiny StableDiffusionXLPipeline: CLIP-L-like + CLIP-G-like (projected) encoders."""
    import torch
    from diffusers import (
        AutoencoderKL,
        EulerDiscreteScheduler,
        StableDiffusionXLPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        block_out_channels=(8, 16), layers_per_block=1, sample_size=8, in_channels=4,
        out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=16 + 24,
        norm_num_groups=4, attention_head_dim=4, use_linear_projection=True,
        addition_embed_type="text_time", addition_time_embed_dim=4,
        projection_class_embeddings_input_dim=6 * 4 + 16, transformer_layers_per_block=1,
    )
    vae = AutoencoderKL(
        block_out_channels=(4, 4, 4, 4), in_channels=3, out_channels=3, latent_channels=4,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
        norm_num_groups=2, sample_size=64, scaling_factor=0.13025,
    )
    tokenizer = build_char_tokenizer(folder / "_tok_xl")
    common = dict(bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                  pad_token_id=tokenizer.eos_token_id, hidden_size=16, intermediate_size=32,
                  num_attention_heads=2, num_hidden_layers=2, vocab_size=len(tokenizer),
                  max_position_embeddings=32)
    text_encoder = CLIPTextModel(CLIPTextConfig(**common))
    # the second encoder is wider, as in SDXL (768 vs 1280): single-file loading tells them apart
    text_encoder_2 = CLIPTextModelWithProjection(CLIPTextConfig(
        **{**common, "hidden_size": 24, "intermediate_size": 48}, projection_dim=16))
    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012,
                                       beta_schedule="scaled_linear", steps_offset=1)
    pipe = StableDiffusionXLPipeline(
        vae=vae, text_encoder=text_encoder, text_encoder_2=text_encoder_2, tokenizer=tokenizer,
        tokenizer_2=tokenizer, unet=unet, scheduler=scheduler,
    )
    pipe.save_pretrained(folder / "tiny-sdxl")
    return folder / "tiny-sdxl"


def build_all(folder: Path) -> dict[str, Path]:
    base = build_tiny_sd(folder / "base")
    return {
        "sd1": base,
        "sd2v": build_tiny_sd2v(folder, base),
        "lcm": build_tiny_lcm(folder, base),
        "inpaint": build_tiny_inpaint(folder, base),
        "sdxl": build_tiny_sdxl(folder),
        "upscaler": build_tiny_upscaler(folder),
    }
