"""Fixture images in each generator's documented metadata layout, built with PIL."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

A1111_TEXT = ("a lighthouse at dusk, (oil painting:1.2)\nNegative prompt: blurry, text\n"
              "Steps: 28, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, "
              "Seed: 3141592653, Size: 640x832, Model hash: 1a2b3c, Model: dreamshaper_8")


def png(path: Path, chunks: dict[str, str] | None = None, size: tuple[int, int] = (8, 8),
        mode: str = "RGB") -> Path:
    """A PNG with `chunks` as tEXt chunks."""
    info = PngImagePlugin.PngInfo()
    for key, value in (chunks or {}).items():
        info.add_text(key, value)
    Image.new(mode, size, (90, 120, 200, 255)[: len(mode)]).save(path, pnginfo=info)
    return path


def exif_image(path: Path, fmt: str, comment: bytes, extra: dict[int, object] | None = None
               ) -> Path:
    """A JPEG or WebP whose EXIF UserComment (0x9286) holds `comment` (prefix included)."""
    image = Image.new("RGB", (8, 8), "blue")
    exif = image.getexif()
    exif.get_ifd(0x8769)[0x9286] = comment
    for tag, value in (extra or {}).items():
        exif[tag] = value
    image.save(path, format=fmt, exif=exif)
    return path


def unicode_comment(text: str) -> bytes:
    return b"UNICODE\0" + text.encode("utf-16-be")  # what A1111 (piexif "unicode") writes


def ascii_comment(text: str) -> bytes:
    return b"ASCII\0\0\0" + text.encode("utf-8")


def stealth_bits(payload: bytes, signature: str, length_bits: int | None = None) -> np.ndarray:
    """The stealth-pnginfo bit stream: signature, 32-bit big-endian bit length, payload."""
    length = len(payload) * 8 if length_bits is None else length_bits
    head = signature.encode() + length.to_bytes(4, "big")
    return np.unpackbits(np.frombuffer(head + payload, dtype=np.uint8))


def stealth_png(path: Path, text: str | bytes, mode: str = "alpha", compressed: bool = False,
                size: tuple[int, int] = (64, 48), length_bits: int | None = None,
                raw: bytes | None = None) -> Path:
    """A PNG hiding `text` in its alpha (mode "alpha") or RGB LSBs, column-major."""
    data = text.encode() if isinstance(text, str) else text
    payload = raw if raw is not None else (gzip.compress(data) if compressed else data)
    signature = f"stealth_{'png' if mode == 'alpha' else 'rgb'}{'comp' if compressed else 'info'}"
    bits = stealth_bits(payload, signature, length_bits)
    width, height = size
    rng = np.random.default_rng(7)
    pixels = rng.integers(0, 256, (height, width, 4), dtype=np.uint8)
    pixels[:, :, 3] = 255
    columns = pixels.transpose(1, 0, 2).copy()  # x outer, y inner
    target = columns[:, :, 3:4] if mode == "alpha" else columns[:, :, :3]
    flat = target.reshape(-1).copy()
    if len(bits) > len(flat):
        bits = bits[: len(flat)]
    flat[: len(bits)] = (flat[: len(bits)] & 0xFE) | bits
    target[...] = flat.reshape(target.shape)
    image_mode = "RGBA" if mode == "alpha" else "RGB"
    out = columns.transpose(1, 0, 2)
    Image.fromarray(np.ascontiguousarray(out if mode == "alpha" else out[:, :, :3]),
                    image_mode).save(path)
    return path


INVOKEAI_3 = {
    "generation_mode": "txt2img", "positive_prompt": "a red fox in snow, photo",
    "negative_prompt": "cartoon, lowres", "width": 768, "height": 512, "seed": 2873651,
    "rand_device": "cpu", "cfg_scale": 7.5, "steps": 30, "scheduler": "dpmpp_2m_k",
    "model": {"model_name": "stable-diffusion-v1-5", "base_model": "sd-1", "model_type": "main"},
}
INVOKEAI_5 = {
    "generation_mode": "sdxl_txt2img", "positive_prompt": "an astronaut riding a horse",
    "negative_prompt": "", "width": 1024, "height": 1024, "seed": 42, "cfg_scale": 5,
    "steps": 25, "scheduler": "euler_a",
    "model": {"key": "a1b2", "hash": "blake3:ff", "name": "juggernautXL_v9", "base": "sdxl",
              "type": "main"},
}
SD_METADATA = {
    "model": "stable diffusion", "model_id": "stable-diffusion-1.5", "model_hash": "cc6cb27103",
    "app_id": "invoke-ai/InvokeAI", "app_version": "2.2.5",
    "image": {"prompt": [{"prompt": "a watercolor castle [people, text]", "weight": 1.0}],
              "steps": 50, "cfg_scale": 7.5, "threshold": 0, "perlin": 0, "height": 512,
              "width": 576, "seed": 1234, "seamless": False, "type": "txt2img",
              "sampler": "k_lms", "variations": []},
    "model_weights": "stable-diffusion-1.5",
}
SD_METADATA_OLD = {"model_weights": "models/ldm/stable-diffusion-v1/model.ckpt",
                   "image": {"prompt": "a tiny house", "steps": 20, "cfg_scale": 9,
                             "seed": 77, "sampler": "ddim", "width": 512, "height": 512}}
DREAM = '"a cat wearing a hat [blurry]" -s 50 -S 1234 -W 512 -H 640 -C 7.5 -A k_euler_a'
FOOOCUS = {
    "adm_guidance": "(1.5, 0.8, 0.3)", "base_model": "juggernautXL_v8Rundiffusion",
    "base_model_hash": "aeb7e9e689", "full_negative_prompt": ["ugly"],
    "full_prompt": ["a misty forest, cinematic"], "guidance_scale": 4, "loras": [],
    "metadata_scheme": "fooocus", "negative_prompt": "ugly, deformed",
    "performance": "Speed", "prompt": "a misty forest", "refiner_model": "None",
    "refiner_switch": 0.5, "resolution": "(1152, 896)", "sampler": "dpmpp_2m_sde_gpu",
    "scheduler": "karras", "seed": "8812947316", "sharpness": 2, "steps": 30,
    "styles": "['Fooocus V2', 'Fooocus Enhance']", "vae": "Default (model)",
    "version": "Fooocus v2.5.5",
}
FOOOCUS_A1111 = ("a misty forest\nNegative prompt: ugly\nSteps: 30, Sampler: DPM++ 2M SDE "
                 "Karras, Seed: 99, CFG scale: 4, Size: 1152x896, Model: juggernautXL_v8, "
                 "Version: Fooocus v2.5.5")
NOVELAI_COMMENT = {
    "prompt": "1girl, silver hair, {{masterpiece}}, night sky", "steps": 28, "height": 1216,
    "width": 832, "scale": 5.5, "uncond_scale": 0.0, "cfg_rescale": 0.0, "seed": 3399112,
    "n_samples": 1, "noise_schedule": "karras", "sampler": "k_dpmpp_2m",
    "uc": "lowres, bad anatomy, {bad hands}", "request_type": "PromptGenerateRequest",
}
NOVELAI_CHUNKS = {
    "Title": "AI generated image", "Description": NOVELAI_COMMENT["prompt"],
    "Software": "NovelAI", "Source": "Stable Diffusion XL C1E1DE52",
    "Generation time": "6.1", "Comment": json.dumps(NOVELAI_COMMENT),
}
