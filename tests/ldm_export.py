"""Write a diffusers SD 1.x pipeline as one `.safetensors` in the original (LDM) key layout.

Test helper for the single-file round trip: our own inverse of the renames diffusers' single-
file loader applies (UNet, VAE, CLIP text encoder). Covers the block layouts of SD 1.x UNets
(any depth / layers per block) and AutoencoderKL.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

_RESNET = (("norm1", "in_layers.0"), ("conv1", "in_layers.2"), ("time_emb_proj", "emb_layers.1"),
           ("norm2", "out_layers.0"), ("conv2", "out_layers.3"),
           ("conv_shortcut", "skip_connection"))
_UNET_TOP = (("time_embedding.linear_1", "time_embed.0"),
             ("time_embedding.linear_2", "time_embed.2"),
             ("conv_in", "input_blocks.0.0"), ("conv_norm_out", "out.0"), ("conv_out", "out.2"))
_VAE_ATTN = (("group_norm", "norm"), ("to_q", "q"), ("to_k", "k"), ("to_v", "v"),
             ("to_out.0", "proj_out"))


def _rename(rest: str, table: tuple[tuple[str, str], ...]) -> str:
    for old, new in table:
        if rest.startswith(old + "."):
            return new + rest[len(old):]
    return rest


def unet_key(key: str, layers: int) -> str:
    """A diffusers UNet2DConditionModel key in the LDM `model.diffusion_model.` layout."""
    for old, new in _UNET_TOP:
        if key.startswith(old + "."):
            return new + key[len(old):]
    if m := re.match(r"down_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.*)", key):
        block, kind, j, rest = int(m[1]), m[2], int(m[3]), m[4]
        index = (layers + 1) * block + j + 1
        return f"input_blocks.{index}.0.{_rename(rest, _RESNET)}" if kind == "resnets" \
            else f"input_blocks.{index}.1.{rest}"
    if m := re.match(r"down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.*)", key):
        return f"input_blocks.{(layers + 1) * (int(m[1]) + 1)}.0.op.{m[2]}"
    if m := re.match(r"mid_block\.(resnets|attentions)\.(\d+)\.(.*)", key):
        if m[1] == "attentions":
            return f"middle_block.1.{m[3]}"
        return f"middle_block.{2 * int(m[2])}.{_rename(m[3], _RESNET)}"
    if m := re.match(r"up_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.*)", key):
        index = (layers + 1) * int(m[1]) + int(m[3])
        return f"output_blocks.{index}.0.{_rename(m[4], _RESNET)}" if m[2] == "resnets" \
            else f"output_blocks.{index}.1.{m[4]}"
    raise KeyError(key)


def _unet_upsampler(key: str, layers: int, has_attention: set[int]) -> str | None:
    m = re.match(r"up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.*)", key)
    if not m:
        return None
    block = int(m[1])
    slot = 2 if block in has_attention else 1
    return f"output_blocks.{(layers + 1) * block + layers}.{slot}.conv.{m[2]}"


def vae_key(key: str, num_blocks: int) -> str:
    """A diffusers AutoencoderKL key in the LDM `first_stage_model.` layout."""
    key = re.sub(r"^(encoder|decoder)\.conv_norm_out\.", r"\1.norm_out.", key)
    key = re.sub(r"\.mid_block\.resnets\.(\d)\.",
                 lambda m: f".mid.block_{int(m[1]) + 1}.", key)
    key = key.replace(".mid_block.attentions.0.", ".mid.attn_1.")
    key = re.sub(r"^encoder\.down_blocks\.(\d+)\.resnets\.", r"encoder.down.\1.block.", key)
    key = re.sub(r"^encoder\.down_blocks\.(\d+)\.downsamplers\.0\.", r"encoder.down.\1.downsample.",
                 key)
    key = re.sub(r"^decoder\.up_blocks\.(\d+)\.resnets\.",
                 lambda m: f"decoder.up.{num_blocks - 1 - int(m[1])}.block.", key)
    key = re.sub(r"^decoder\.up_blocks\.(\d+)\.upsamplers\.0\.",
                 lambda m: f"decoder.up.{num_blocks - 1 - int(m[1])}.upsample.", key)
    key = key.replace(".conv_shortcut.", ".nin_shortcut.")
    if ".attn_1." in key:
        head, rest = key.split(".attn_1.")
        key = f"{head}.attn_1.{_rename(rest, _VAE_ATTN)}"
    return key


_OPEN_CLIP = (("layer_norm1", "ln_1"), ("layer_norm2", "ln_2"), ("mlp.fc1", "mlp.c_fc"),
              ("mlp.fc2", "mlp.c_proj"), ("self_attn.out_proj", "attn.out_proj"))


def open_clip_state(text_encoder) -> dict[str, torch.Tensor]:  # noqa: ANN001
    """A CLIP text model in OpenCLIP's layout (fused qkv, transposed projection if any)."""
    state = {k.removeprefix("text_model."): v for k, v in text_encoder.state_dict().items()}
    out = {"token_embedding.weight": state.pop("embeddings.token_embedding.weight"),
           "positional_embedding": state.pop("embeddings.position_embedding.weight"),
           "ln_final.weight": state.pop("final_layer_norm.weight"),
           "ln_final.bias": state.pop("final_layer_norm.bias")}
    if "text_projection.weight" in state:  # SDXL's second encoder; SD 2.x has none in diffusers
        out["text_projection"] = state.pop("text_projection.weight").T
    for i in range(text_encoder.config.num_hidden_layers):
        head, block = f"encoder.layers.{i}.", f"transformer.resblocks.{i}."
        for kind in ("weight", "bias"):
            qkv = [state.pop(f"{head}self_attn.{p}_proj.{kind}") for p in "qkv"]
            out[f"{block}attn.in_proj_{kind}"] = torch.cat(qkv)
        for key in [k for k in state if k.startswith(head)]:
            out[block + _rename(key[len(head):], _OPEN_CLIP)] = state.pop(key)
    return out


def _unet_and_vae(pipe) -> dict[str, torch.Tensor]:  # noqa: ANN001
    out: dict[str, torch.Tensor] = {}
    layers = pipe.unet.config.layers_per_block
    attn_up = {i for i, b in enumerate(pipe.unet.up_blocks) if getattr(b, "attentions", None)}
    for key, value in pipe.unet.state_dict().items():
        if key.startswith("add_embedding.linear_"):  # SDXL's pooled text + size embedding
            name = f"label_emb.0.{0 if key[21] == '1' else 2}{key[22:]}"
        else:
            name = _unet_upsampler(key, layers, attn_up) or unet_key(key, layers)
        out[f"model.diffusion_model.{name}"] = value
    blocks = len(pipe.vae.config.block_out_channels)
    for key, value in pipe.vae.state_dict().items():
        name = vae_key(key, blocks)
        if ".attn_1." in name and name.endswith(".weight") and value.ndim == 2:
            value = value[:, :, None, None]  # LDM stores attention projections as 1x1 convs
        out[f"first_stage_model.{name}"] = value
    return out


def export_ldm_checkpoint(pipe, path: Path,  # noqa: ANN001 - an SD 1.x/2.x or SDXL pipeline
                          open_clip: bool = False) -> Path:
    """Save `pipe`'s UNet, VAE and text encoder(s) in one LDM-layout safetensors file."""
    from safetensors.torch import save_file

    out = _unet_and_vae(pipe)
    text_prefix = "cond_stage_model.transformer."
    if open_clip:  # SD 2.x: the only text encoder is OpenCLIP
        for key, value in open_clip_state(pipe.text_encoder).items():
            out[f"cond_stage_model.model.{key}"] = value
        save_file({k: v.contiguous() for k, v in out.items()}, str(path))
        return path
    if getattr(pipe, "text_encoder_2", None) is not None:
        text_prefix = "conditioner.embedders.0.transformer."
        for key, value in open_clip_state(pipe.text_encoder_2).items():
            out[f"conditioner.embedders.1.model.{key}"] = value
    for key, value in pipe.text_encoder.state_dict().items():
        # original checkpoints nest CLIP under `text_model.` (transformers >= 5.6 flattens it)
        key = key if key.startswith("text_model.") else f"text_model.{key}"
        out[f"{text_prefix}{key}"] = value
    save_file({k: v.contiguous() for k, v in out.items()}, str(path))
    return path
