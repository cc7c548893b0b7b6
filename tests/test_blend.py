"""Multi-band paste-back (studio/core/blend.py, inpaint.paste_back): exactness and seams."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

from studio.core.blend import multiband_blend
from studio.core.inpaint import feather, paste_back


def texture(seed: int, size: int = 64, mean: float = 120, spread: float = 25) -> np.ndarray:
    """A smooth-ish random texture (detail at a few px), uint8 RGB."""
    rng = np.random.default_rng(seed)
    small = rng.normal(mean, spread, (size // 4, size // 4, 3)).clip(0, 255).astype(np.uint8)
    return np.asarray(Image.fromarray(small).resize((size, size), Image.Resampling.BICUBIC))


def square_mask(size: int = 64, lo: int = 20, hi: int = 44) -> np.ndarray:
    mask = np.zeros((size, size), np.uint8)
    mask[lo:hi, lo:hi] = 255
    return mask


def plain(src: np.ndarray, gen: np.ndarray, mask: np.ndarray, blur: float = 4) -> np.ndarray:
    """A1111's default paste-back: the mask Gaussian-blurred as alpha, no colour correction."""
    alpha = np.asarray(Image.fromarray(mask).filter(ImageFilter.GaussianBlur(blur)),
                       np.float32)[..., None] / 255
    return np.clip(np.round(src * (1 - alpha) + gen * alpha), 0, 255).astype(np.uint8)


def edge_seam(image: np.ndarray, mask: np.ndarray) -> float:
    """Mean |RGB step| across the square mask's left/right edges over the mean 3 px either side."""
    y = image.astype(np.float32)[20:44]
    step = lambda x: np.abs(y[:, x] - y[:, x - 1]).sum(axis=1).mean()  # noqa: E731
    return float((step(20) + step(44)) / 2 / ((step(17) + step(23) + step(41) + step(47)) / 4))


def test_multiband_is_generated_inside_source_outside():
    src, gen = texture(0).astype(np.float32), texture(1).astype(np.float32)
    everywhere = multiband_blend(src, gen, np.ones((64, 64), bool), 4)
    nowhere = multiband_blend(src, gen, np.zeros((64, 64), bool), 4)
    assert np.abs(everywhere - gen).max() < 1e-3
    assert np.abs(nowhere - src).max() < 1e-3


def test_fine_detail_crosses_over_a_narrow_zone():
    """Same shading, different pixel-scale detail: 4 px outside the mask ours shows less of
    the generated detail than plain's Gaussian alpha (no ghost halo), 4 px inside more."""
    rng = np.random.default_rng(2)
    base = texture(2).astype(int)
    src, gen = (np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)
                for _ in range(2))
    mask = square_mask()
    ours = np.asarray(paste_back(Image.fromarray(src), Image.fromarray(gen), mask,
                                 (0, 0, 64, 64), 4, color_match=False)).astype(float)
    ref = plain(src, gen, mask).astype(float)
    out_col, in_col = np.s_[22:42, 15], np.s_[22:42, 24]
    assert np.abs(ours[out_col] - src[out_col]).mean() < np.abs(ref[out_col] - src[out_col]).mean()
    assert np.abs(ours[in_col] - gen[in_col]).mean() < np.abs(ref[in_col] - gen[in_col]).mean()


def test_colour_shifted_patch_leaves_a_smaller_seam_than_plain():
    """The model shifted every colour (+25 red, −15 blue) and painted new content well inside
    the mask: ours removes the shift, so the mask edge keeps the source's own seam ratio
    (plain blending's colour ramp changes it), and every pixel where the envelope is 0 is
    the source's exactly."""
    src = texture(4, spread=12)
    gen = np.clip(src.astype(int) + (25, 0, -15), 0, 255).astype(np.uint8)
    gen[28:36, 28:36] = (40, 200, 40)  # the new content
    mask = square_mask()
    ours = np.asarray(paste_back(Image.fromarray(src), Image.fromarray(gen), mask,
                                 (0, 0, 64, 64), 4))
    ref = plain(src, gen, mask)
    # the edge looks like the source's own (its texture sets the ratio), plain's does not
    own = edge_seam(src, mask)
    assert abs(edge_seam(ours, mask) - own) < 0.03 < 0.1 < abs(edge_seam(ref, mask) - own)
    rows = np.s_[22:42, 12:28]  # across the left edge: the shift is gone, plain keeps it
    assert np.abs(ours[rows].astype(int) - src[rows]).max() <= 2
    assert np.abs(ref[rows].astype(int) - src[rows]).max() > 15
    band = np.zeros((64, 64), bool)
    band[16:48, 16:48], band[20:44, 20:44] = True, False  # 4 px outside the mask
    shift = lambda img: np.abs(img[band].astype(float).mean(0) - src[band].mean(0)).max()  # noqa: E731
    assert shift(ours) < 3 < shift(ref)
    assert np.abs(ours[30:34, 30:34].astype(int) - (15, 200, 55)).max() < 12  # content kept
    keep = feather(mask, 4) == 0
    assert keep.sum() > 1000 and np.array_equal(ours[keep], src[keep])


def test_blur_zero_is_a_hard_paste_of_the_corrected_crop():
    src, gen, mask = texture(6), texture(7), square_mask()
    out = np.asarray(paste_back(Image.fromarray(src), Image.fromarray(gen), mask,
                                (0, 0, 64, 64), 0, color_match=False))
    inside = mask > 127
    assert np.array_equal(out[inside], gen[inside])
    assert np.array_equal(out[~inside], src[~inside])


def test_local_colour_step_at_the_edge_is_smaller_than_plain():
    """The model painted the whole masked area a different shade (+40 red, −30 blue) and left
    the rest as it was, so there is no drift outside to measure: ours still cuts the local
    colour step at the mask edge (well below plain's), while the middle keeps the new shade and
    pixels where the envelope is 0 stay exact."""
    src = texture(8, spread=10)
    gen = src.astype(int)
    gen[20:44, 20:44] += (40, 10, -30)
    gen = np.clip(gen, 0, 255).astype(np.uint8)
    mask = square_mask()
    ours = np.asarray(paste_back(Image.fromarray(src), Image.fromarray(gen), mask,
                                 (0, 0, 64, 64), 4))
    no_edge = np.asarray(paste_back(Image.fromarray(src), Image.fromarray(gen), mask,
                                    (0, 0, 64, 64), 4, edge_match=0))
    inner, outer = np.zeros((64, 64), bool), np.zeros((64, 64), bool)
    inner[20:44, 20:44], inner[23:41, 23:41] = True, False  # 3 px inside the edge
    outer[17:47, 17:47], outer[20:44, 20:44] = True, False  # 3 px outside

    def step(img: np.ndarray) -> float:
        f = img.astype(float)
        return float(np.abs(f[inner].mean(0) - f[outer].mean(0)).sum())

    # (the correction is blurred across the edge so that it draws no outline, see below:
    # part of it lands outside, hence 0.8 rather than the 0.7 an edge-cut field reached)
    assert step(ours) < 0.8 * step(plain(src, gen, mask))
    assert step(ours) < 0.8 * step(no_edge)
    centre = ours[30:34, 30:34].astype(float).mean((0, 1)) - src[30:34, 30:34].mean((0, 1))
    assert np.abs(centre - (40, 10, -30)).max() < 4
    keep = feather(mask, 4) == 0
    assert np.array_equal(ours[keep], src[keep])


def test_the_edge_match_draws_no_outline_of_the_mask():
    """New content that brightens a few px inside the edge (its band mean is brighter than its
    edge pixels): the correction must not darken the edge pixels below both neighbours, which
    reads as a line tracing the mask."""
    src = np.full((64, 64, 3), 100, np.uint8)
    inside = np.zeros((64, 64), bool)
    inside[8:56, 32:] = True
    ramp = np.clip(100 + 10 * (np.arange(64) - 32), 100, 140).astype(np.uint8)
    gen = src.copy()
    gen[inside] = np.broadcast_to(ramp[None, :, None], (64, 64, 3))[inside]
    mask = np.where(inside, 255, 0).astype(np.uint8)
    out = np.asarray(paste_back(Image.fromarray(src), Image.fromarray(gen), mask,
                                (0, 0, 64, 64), 4)).astype(int)
    row = out[30:34, 24:44, 0].mean(0)
    dips = [min(row[i - 1], row[i + 1]) - row[i] for i in range(1, len(row) - 1)]
    assert max(dips) <= 1.0, row.round()
