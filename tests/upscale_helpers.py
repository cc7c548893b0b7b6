"""Tiny random upscalers for the upscale tests (no downloads, no trained weights)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def build_tiny_sr(folder: Path, seed: int = 0) -> Path:
    """A small random ResidualSR exported like the real one (config.json + safetensors).

    The tail is randomised too (the trainer zero-initialises it), so the model adds detail
    and has real edge effects at tile borders.
    """
    import torch

    from studio.training.sr import ResidualSR, export_sr

    torch.manual_seed(seed)
    model = ResidualSR(features=8, blocks=2)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.05)
    return export_sr(model, folder / "tiny-sr", step=0)


def noise_image(width: int, height: int, seed: int = 0, mode: str = "RGB") -> Image.Image:
    """A stationary texture: every row and column has the same gradient statistics."""
    rng = np.random.default_rng(seed)
    channels = {"RGB": 3, "RGBA": 4}[mode]
    array = (rng.random((height, width, channels)) * 255).astype(np.uint8)
    if mode == "RGBA":
        array[..., 3] = np.linspace(0, 255, width, dtype=np.uint8)[None, :]
    return Image.fromarray(array, mode)


def build_tiny_sd_x4(folder: Path, seed: int = 0) -> Path:
    """A tiny random StableDiffusionUpscalePipeline (factor-4 VAE, 7-channel UNet)."""
    import torch
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        DDPMScheduler,
        StableDiffusionUpscalePipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel

    from tests.tiny_models import build_char_tokenizer

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        block_out_channels=(8, 16), layers_per_block=1, sample_size=16, in_channels=7,
        out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=16,
        norm_num_groups=4, attention_head_dim=4, num_class_embeds=400,
    )
    vae = AutoencoderKL(
        block_out_channels=(4, 4, 4), in_channels=3, out_channels=3, latent_channels=4,
        down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3,
        norm_num_groups=2,
    )
    tokenizer = build_char_tokenizer(folder / "_tok_x4")
    text_encoder = CLIPTextModel(CLIPTextConfig(
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        hidden_size=16, intermediate_size=32, num_attention_heads=2, num_hidden_layers=2,
        vocab_size=len(tokenizer), max_position_embeddings=32, pad_token_id=tokenizer.eos_token_id,
    ))
    pipe = StableDiffusionUpscalePipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
        low_res_scheduler=DDPMScheduler(), scheduler=DDIMScheduler(prediction_type="v_prediction"),
        safety_checker=None, watermarker=None, feature_extractor=None, max_noise_level=350,
    )
    pipe.save_pretrained(folder / "tiny-sd-x4")
    return folder / "tiny-sd-x4"
