"""Seam-free paste-back math: a smooth colour-drift field and a multi-band blend.

The generated crop differs from the source in more than its content: the model's VAE shifts
colours and contrast (a different amount in each part of the picture). `drift_field` measures
that difference (source − generated) on the kept pixels near the mask, keeps only its low
frequencies and fills it smoothly into the mask (push-pull pyramid: a membrane-like
interpolation, like Poisson blending's correction term). Adding the field to the generated crop
removes the colour step at the mask edge while the generated detail stays as it is.

`multiband_blend` then joins the corrected crop to the source band by band (a Laplacian stack,
Burt & Adelson 1983): fine detail crosses over a narrow zone around the mask edge (no ghosting
of two textures), coarse shading over a wide one (no visible colour ramp).

The drift field only sees the model's colour cast (it is measured beyond the model's spill);
what the model paints right at the mask edge can still differ in local colour from the source
just outside (a lighter shade of the same wall, a slightly different background). `edge_field`
measures that local step (mean colours of bands just outside and just inside, averaged along the
edge), keeps only the part larger than the source's own step at that place, and fades it out
over a couple of band widths into the mask: a membrane-like correction limited to the edge zone,
so new content further in keeps its own colour.
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def box_blur(values: np.ndarray, radius: int, passes: int = 3) -> np.ndarray:
    """Separable box blur of an (H, W[, C]) float array, edges clamped; 3 passes ≈ Gaussian."""
    out = values.astype(np.float32)
    if radius <= 0:
        return out
    for _ in range(passes):
        for axis in (0, 1):
            out = _box_1d(out, radius, axis)
    return out


def _box_1d(values: np.ndarray, radius: int, axis: int) -> np.ndarray:
    pad = [(0, 0)] * values.ndim
    pad[axis] = (radius + 1, radius)
    padded = np.pad(values, pad, mode="edge")
    summed = np.cumsum(padded, axis=axis, dtype=np.float64)
    n = values.shape[axis]
    hi = np.take(summed, np.arange(2 * radius + 1, 2 * radius + 1 + n), axis=axis)
    lo = np.take(summed, np.arange(0, n), axis=axis)
    return ((hi - lo) / (2 * radius + 1)).astype(np.float32)


def normalized_blur(values: np.ndarray, known: np.ndarray, radius: int) -> np.ndarray:
    """Blur of `values` that only averages `known` pixels (0 where none is in reach)."""
    weight = box_blur(known.astype(np.float32), radius)
    summed = box_blur(values * known[..., None], radius)
    return summed / np.maximum(weight, 1e-6)[..., None]


def _half(values: np.ndarray) -> np.ndarray:
    """Mean of 2×2 blocks (an odd last row/column is repeated)."""
    h, w = values.shape[:2]
    pad = [(0, h % 2), (0, w % 2)] + [(0, 0)] * (values.ndim - 2)
    v = np.pad(values, pad, mode="edge")
    return (v[0::2, 0::2] + v[1::2, 0::2] + v[0::2, 1::2] + v[1::2, 1::2]) / 4


def _upsample(values: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of an (h, w, C) float array to `size` (w, h), channel by channel."""
    chans = [np.asarray(Image.fromarray(values[..., c]).resize(size, Image.Resampling.BILINEAR))
             for c in range(values.shape[2])]
    return np.stack(chans, axis=-1)


def smooth_fill(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """(H, W, C) `values` kept where `known`, smoothly interpolated everywhere else."""
    weight = known.astype(np.float32)
    if not weight.any():
        return np.zeros_like(values, dtype=np.float32)
    pyramid = [(values.astype(np.float32) * weight[..., None], weight)]
    while max(pyramid[-1][1].shape) > 1:
        vw, w = pyramid[-1]
        pyramid.append((_half(vw), _half(w)))
    vw, w = pyramid[-1]
    filled = vw / np.maximum(w, 1e-6)[..., None]
    for vw, w in reversed(pyramid[:-1]):
        up = _upsample(filled, (w.shape[1], w.shape[0]))
        alpha = np.clip(w * 4, 0, 1)[..., None]  # a partly known cell trusts its own mean
        filled = alpha * (vw / np.maximum(w, 1e-6)[..., None]) + (1 - alpha) * up
    return filled


def drift_field(original: np.ndarray, generated: np.ndarray, inside: np.ndarray,
                radius: int) -> np.ndarray:
    """Low-frequency (original − generated) measured outside `inside`, filled smoothly into it.

    `radius` sets the low-pass: detail finer than about 2·radius px is left to the feather.
    """
    known = ~inside
    diff = original.astype(np.float32) - generated.astype(np.float32)
    low = normalized_blur(diff, known, radius)
    field = smooth_fill(low, known)
    return box_blur(field, max(1, radius // 2), passes=2)


def edge_field(original: np.ndarray, generated: np.ndarray, inside: np.ndarray,
               width: int) -> np.ndarray:
    """(H, W, C) correction for `generated` at the mask edge: its excess colour step there.

    Band means, each averaged over ≈`width` px along the edge: the source just outside
    `inside` and just inside (`width`-px bands), the generated crop just inside. Where the
    crop's inner mean lies between the source's two (per channel) its step is no larger than
    the source's own there (a natural gradient, or the edge of a removed object) and nothing
    is corrected; otherwise the correction moves it to the nearer of them. Filled smoothly and
    weighted 1 on the mask's edge pixels, falling smoothly (smoothstep of the blurred mask) to
    ≈0 about 2·width px in, 0 outside; then blurred by width/2 px, so it has no step of its
    own at the edge: one would draw the mask's outline into the result wherever the crop's
    colour changes within the band (its band mean differs from its edge pixels).
    """
    if width <= 0 or not inside.any() or inside.all():
        return np.zeros(generated.shape, np.float32)
    outer = _grow(inside, width) & ~inside
    inner = inside & _grow(~inside, width)
    src = original.astype(np.float32)
    src_out, src_in = normalized_blur(src, outer, width), normalized_blur(src, inner, width)
    gen_in = normalized_blur(generated.astype(np.float32), inner, width)
    target = np.clip(gen_in, np.minimum(src_in, src_out), np.maximum(src_in, src_out))
    reach = (box_blur(outer, width) > 1e-3) & (box_blur(inner, width) > 1e-3) & (outer | inner)
    step = smooth_fill(target - gen_in, reach)
    fade = np.clip(2 * gaussian((~inside).astype(np.float32), width), 0, 1)
    fade = fade * fade * (3 - 2 * fade) * inside
    return gaussian(fade[..., None] * step, width / 2)


def _grow(region: np.ndarray, pixels: int) -> np.ndarray:
    """`region` dilated by `pixels` (square)."""
    return box_blur(region.astype(np.float32), pixels, passes=1) > 0


def gaussian(values: np.ndarray, sigma: float) -> np.ndarray:
    """≈ Gaussian blur of an (H, W[, C]) float array (3 box passes), edges clamped."""
    if sigma <= 0:
        return values.astype(np.float32)
    return box_blur(values, max(1, round(0.87 * sigma)))


def multiband_blend(source: np.ndarray, generated: np.ndarray, inside: np.ndarray,
                    blur: float, coarse: tuple[float, float] = (2.0, 1.5)) -> np.ndarray:
    """`generated` inside the mask, `source` outside, joined per frequency band (float32).

    Bands split at σ = blur/4, blur/2, blur; the three detail bands are blended through the
    mask blurred by σ = blur/2, blur, blur, the remaining low-pass (shading, colour) through
    the mask grown by coarse[1]·blur px and blurred by σ = coarse[0]·blur: detail crosses over
    a zone about as wide as itself, shading over a wide one that stays mostly outside the mask
    (new content inside keeps its colour). The weights reach past the mask, so callers cut the
    result off with a bounded envelope to keep far pixels exact.
    """
    splits = (blur / 4, blur / 2, blur)
    gen, src = generated.astype(np.float32), source.astype(np.float32)
    out = np.zeros_like(gen)
    for sigma in splits:
        low_gen, low_src = gaussian(gen, sigma), gaussian(src, sigma)
        weight = band_weight(inside, max(blur / 2, sigma), 0)
        out += weight * (gen - low_gen) + (1 - weight) * (src - low_src)
        gen, src = low_gen, low_src
    weight = band_weight(inside, coarse[0] * blur, round(coarse[1] * blur))
    return out + weight * gen + (1 - weight) * src


def band_weight(inside: np.ndarray, sigma: float, grow: int) -> np.ndarray:
    """(H, W, 1) weights: `inside` grown by `grow` px (square), blurred by ≈σ."""
    mask = _grow(inside, grow) if grow > 0 else inside
    return np.clip(gaussian(mask.astype(np.float32), sigma), 0, 1)[..., None]
