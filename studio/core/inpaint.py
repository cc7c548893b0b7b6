"""Inpainting image math: mask checks, crop boxes, latent-grid snapping, feathered paste-back."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from studio.core.blend import drift_field, edge_field, multiband_blend
from studio.core.images import plain_mode

Box = tuple[int, int, int, int]  # left, top, right, bottom (right/bottom exclusive)
# A mask pixel above this is repainted: the paste-back blends through the feathered
# `mask > MASK_THRESHOLD` area and copies every other pixel exactly from the source.
MASK_THRESHOLD = 127
# How much of the generated crop's excess colour step at the mask edge the paste-back removes
# (low frequencies only). The correction is blurred across the edge (no outline of the mask),
# so at the edge pixels about half of it acts: 1.0 there meets halfway, like a 50 % alpha.
EDGE_MATCH = 1.0


@dataclass(frozen=True)
class InpaintPlan:
    """Where the model works: `box` of the source, processed at `work_size` (w, h)."""

    box: Box
    work_size: tuple[int, int]


def normalize_image(image: Image.Image) -> Image.Image:
    """Any PIL image (RGBA, palette, 16-bit, grayscale, CMYK) as 8-bit RGB, alpha over white."""
    image = plain_mode(image)
    if image.mode in ("RGBA", "LA"):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def mask_to_array(mask: Image.Image, size: tuple[int, int]) -> np.ndarray:
    """A mask image as uint8 (H, W); raises ValueError when its size differs from `size`."""
    if mask.size != size:
        raise ValueError(
            f"The mask is {mask.size[0]}×{mask.size[1]} but the image is {size[0]}×{size[1]}; "
            "paint the mask on this image or resize the mask to match."
        )
    mask = plain_mode(mask)
    if mask.mode in ("RGBA", "LA"):
        alpha = np.asarray(mask.getchannel("A"))
        if alpha.min() < 255:
            return alpha.copy()
    return np.asarray(normalize_image(mask).convert("L")).copy()


def check_mask(mask: np.ndarray) -> None:
    """Raise ValueError when no pixel of `mask` would be repainted (none above the threshold)."""
    if not (mask > MASK_THRESHOLD).any():
        raise ValueError(
            "The mask is empty: paint the area to change (white = repaint; pixels darker than "
            "50 % grey are kept), or use image-to-image to change the whole picture."
        )


def mask_bbox(mask: np.ndarray) -> Box | None:
    hard = mask > MASK_THRESHOLD
    rows, cols = np.nonzero(hard.any(axis=1))[0], np.nonzero(hard.any(axis=0))[0]
    if rows.size == 0:
        return None
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def crop_box(bbox: Box, image_size: tuple[int, int], padding: int, aspect: float) -> Box:
    """`bbox` grown by `padding`, widened to `aspect` (w/h), shifted/clamped inside the image."""
    width, height = image_size
    left, top = bbox[0] - padding, bbox[1] - padding
    right, bottom = bbox[2] + padding, bbox[3] + padding
    w, h = right - left, bottom - top
    if w / h < aspect:
        w = round(h * aspect)
    else:
        h = round(w / aspect)
    w, h = min(w, width), min(h, height)
    cx, cy = (bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2
    left = int(round(min(max(cx - w / 2, 0), width - w)))
    top = int(round(min(max(cy - h / 2, 0), height - h)))
    return left, top, left + w, top + h


def work_size_for(box_size: tuple[int, int], resolution: int, multiple: int = 8) -> tuple[int, int]:
    """Processing size: the box's aspect with its long side at `resolution`, snapped to 8."""
    w, h = box_size
    scale = resolution / max(w, h)
    snap = lambda v: max(multiple, int(round(v * scale / multiple)) * multiple)  # noqa: E731
    return snap(w), snap(h)


def plan_inpaint(mask: np.ndarray, only_masked: bool, padding: int,
                 resolution: int) -> InpaintPlan:
    """Crop to the mask (plus padding) in "only masked" mode, else use the whole image."""
    height, width = mask.shape
    if only_masked:
        bbox = mask_bbox(mask)
        assert bbox is not None
        box = crop_box(bbox, (width, height), padding, 1.0 if resolution else width / height)
    else:
        box = (0, 0, width, height)
    return InpaintPlan(box, work_size_for((box[2] - box[0], box[3] - box[1]), resolution))


def grow_mask(mask: np.ndarray, pixels: int) -> np.ndarray:
    """Dilate by `pixels` so every latent cell the mask touches is regenerated."""
    if pixels <= 0:
        return mask
    size = 2 * pixels + 1
    return np.asarray(Image.fromarray(mask).filter(ImageFilter.MaxFilter(size)))


def feather(mask: np.ndarray, radius: float) -> np.ndarray:
    """The paste-back's envelope in [0, 1]: 1 on the mask, falling off outward over about
    2·radius px and exactly 0 beyond; `paste_back` changes no pixel where it is 0."""
    inside = mask > MASK_THRESHOLD
    if radius <= 0:
        return inside.astype(np.float32)
    hard = Image.fromarray(np.where(inside, 255, 0).astype(np.uint8))
    grown = hard.filter(ImageFilter.MaxFilter(2 * int(radius) + 1))
    blurred = np.asarray(grown.filter(ImageFilter.GaussianBlur(radius / 2)), np.float32) / 255
    blurred[blurred < 1.5 / 255] = 0.0
    return np.maximum(blurred, inside.astype(np.float32))


def match_colors(generated: np.ndarray, original: np.ndarray, inside: np.ndarray,
                 radius: int) -> np.ndarray:
    """`generated` plus the smooth colour drift (original − generated) measured outside
    `inside` and interpolated into it: no colour step at the mask edge, detail untouched."""
    if inside.all() or not inside.any():
        return generated
    field = drift_field(original, generated, inside, radius)
    return np.clip(np.round(generated.astype(np.float32) + field), 0, 255).astype(np.uint8)


def match_edge(generated: np.ndarray, original: np.ndarray, inside: np.ndarray,
               width: int, strength: float = EDGE_MATCH) -> np.ndarray:
    """`generated` with its local colour step at the mask edge, beyond the source's own step
    there, reduced by `strength` (`blend.edge_field`: `width`-px bands either side of the
    edge, faded out over about 2·width px into the mask); detail and content further in are
    untouched."""
    field = edge_field(original, generated, inside, width)
    return np.clip(np.round(generated.astype(np.float32) + strength * field),
                   0, 255).astype(np.uint8)


def composite(original: np.ndarray, generated: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """original·(1−w) + generated·w, with pixels where w == 0 copied exactly."""
    w = weights[..., None]
    blended = original.astype(np.float32) * (1 - w) + generated.astype(np.float32) * w
    out = np.clip(np.round(blended), 0, 255).astype(np.uint8)
    keep = weights == 0
    out[keep] = original[keep]
    return out


def _grown(inside: np.ndarray, pixels: int) -> np.ndarray:
    return grow_mask(np.where(inside, 255, 0).astype(np.uint8), pixels) > MASK_THRESHOLD


def blend_region(original: np.ndarray, generated: np.ndarray, inside: np.ndarray,
                 envelope: np.ndarray, blur: float, color_match: bool = True,
                 edge_match: float = EDGE_MATCH) -> np.ndarray:
    """The seam-free blend of one crop: colour drift removed (measured beyond the model's
    spill of about `blur` px past the mask), the remaining local colour step at the mask edge
    reduced by `edge_match` (`match_edge`, bands of `blur` px), then a multi-band blend of
    generated and original, cut off by `envelope` (pixels where it is 0 are copied exactly)."""
    if color_match:
        spill = _grown(inside, max(1, round(blur)))
        generated = match_colors(generated, original, spill, max(2, round(2 * blur)))
        if blur > 0 and edge_match > 0:
            generated = match_edge(generated, original, inside, max(1, round(blur)), edge_match)
    if blur <= 0:
        return composite(original, generated, envelope)
    mixed = multiband_blend(original, generated, inside, blur)
    base = original.astype(np.float32)
    blended = base + envelope[..., None] * (mixed - base)
    out = np.clip(np.round(blended), 0, 255).astype(np.uint8)
    return composite(original, out, (envelope > 0).astype(np.float32))


def paste_back(original: Image.Image, generated_box: Image.Image, mask: np.ndarray,
               box: Box, blur: float, color_match: bool = True,
               edge_match: float = EDGE_MATCH) -> Image.Image:
    """Put a generated crop back into `original`, blending within the feathered mask
    (`color_match` off: no drift or edge colour correction; `edge_match`: see `match_edge`)."""
    base = np.asarray(original).copy()
    size = (box[2] - box[0], box[3] - box[1])
    crop = np.asarray(generated_box.resize(size, Image.Resampling.LANCZOS).convert("RGB"))
    region = base[box[1]:box[3], box[0]:box[2]]
    envelope = feather(mask, blur)[box[1]:box[3], box[0]:box[2]]
    inside = mask[box[1]:box[3], box[0]:box[2]] > MASK_THRESHOLD
    base[box[1]:box[3], box[0]:box[2]] = blend_region(region, crop, inside, envelope, blur,
                                                      color_match, edge_match)
    return Image.fromarray(base)
