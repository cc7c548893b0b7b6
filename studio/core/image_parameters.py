"""Generation parameters recovered from an image, and the value coercions readers share."""

from __future__ import annotations

from dataclasses import dataclass, fields

from studio.core.requests import SCHEDULER_NAMES


@dataclass(frozen=True)
class ImageParameters:
    """Settings recovered from an image; None where the image did not say."""

    prompt: str | None = None
    negative_prompt: str | None = None
    steps: int | None = None
    scheduler: str | None = None
    guidance: float | None = None
    seed: int | None = None
    width: int | None = None
    height: int | None = None
    model: str | None = None
    strength: float | None = None
    mode: str | None = None  # "img2img" / "inpaint" for edit results (txt2img: None)
    upscale_by: int | None = None  # 2 or 4: an upscaled copy ("Postprocess upscale by")
    hires_scale: float | None = None  # A1111's "Hires upscale" (strength: "Denoising strength")
    hires_steps: int | None = None  # A1111's "Hires steps" (absent: same as steps)
    source: str = ""  # "a1111" (also ours), "comfyui", "invokeai", "fooocus" or "novelai"

    def is_empty(self) -> bool:
        return all(getattr(self, f.name) is None for f in fields(self) if f.name != "source")


# ----- samplers ---------------------------------------------------------------------------
_EXACT = {name.lower(): name for name in SCHEDULER_NAMES}
_ALIASES = {
    "euler_ancestral": "Euler a", "euler ancestral": "Euler a", "k_euler_a": "Euler a",
    "k_euler_ancestral": "Euler a", "euler": "Euler", "k_euler": "Euler",
    "ddim": "DDIM", "ddpm": "DDPM", "dpmpp_2m": "DPM++ 2M", "k_dpmpp_2m": "DPM++ 2M",
    "dpm++ 2m karras": "DPM++ 2M Karras", "k_dpmpp_2m_ka": "DPM++ 2M Karras",
    "dpmpp_2m_sde": "DPM++ 2M SDE", "dpmpp_2m_sde_gpu": "DPM++ 2M SDE",
    "unipc": "UniPC", "uni_pc": "UniPC", "uni_pc_bh2": "UniPC",
}


def map_sampler(name: str | None, schedule: str | None = None) -> str | None:
    """Our scheduler name for an A1111/ComfyUI sampler (+ schedule type), best-effort.

    "DPM++ 2M Karras", ("DPM++ 2M", "Karras") and ("dpmpp_2m", "karras") all map to
    "DPM++ 2M Karras"; unknown samplers map to the closest family, or None.
    """
    if not name:
        return None
    key = " ".join(name.strip().lower().split())
    karras = "karras" in key or (schedule or "").strip().lower() == "karras"
    base = _EXACT.get(key) or _ALIASES.get(key)
    if base is None:
        base = _closest_family(key)
    if base in ("DPM++ 2M", "DPM++ 2M SDE") and karras:
        return f"{base} Karras"
    return base


def _closest_family(key: str) -> str | None:
    compact = key.replace("_", " ")
    if compact.endswith(" a") or "ancestral" in compact:
        return "Euler a"
    if "dpm" in compact:
        family = "DPM++ 2M SDE" if "sde" in compact else "DPM++ 2M"
        return f"{family} Karras" if "karras" in compact else family
    if "unipc" in compact.replace(" ", "") or "uni pc" in compact:
        return "UniPC"
    if compact.startswith(("euler", "heun", "lms")):
        return "Euler"
    if "plms" in compact or "pndm" in compact:
        return "DDIM"
    return None


# ----- value coercion (never raises) --------------------------------------------------------
def _int(value: object, low: int = 0, high: int = 2**63) -> int | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    if isinstance(value, int):  # str() of a huge int raises (Python's digit limit)
        return value if low <= value <= high else None
    try:
        text = str(value).strip()[:64]
        number = int(text)
    except ValueError:
        try:
            number = int(float(text))
        except (ValueError, OverflowError):
            return None
    return number if low <= number <= high else None


def _float(value: object, low: float = 0.0, high: float = 1e6) -> float | None:
    if not isinstance(value, str | int | float):
        return None
    try:
        number = float(str(value).strip()) if not isinstance(value, bool) else None
    except (ValueError, OverflowError):
        return None
    return number if number is not None and low <= number <= high else None


__all__ = ["ImageParameters", "map_sampler"]
