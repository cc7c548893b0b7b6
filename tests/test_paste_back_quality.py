"""Paste-back quality: no latent-cell grid from resizing the work image, no colour step."""

from __future__ import annotations

import numpy as np
from PIL import Image

from studio.core.inpaint import feather, paste_back


def grid_ratio(image: np.ndarray, period: int) -> float:
    """Mean |step| between pixels across the lines of a `period`-px grid over the mean
    elsewhere: ≈1 for smooth content, far above 1 for blocky (cell-by-cell) texture."""
    y = image.astype(np.float32).mean(axis=2)
    steps = np.abs(np.diff(y, axis=1)).mean(axis=0) + np.abs(np.diff(y, axis=0)).mean(axis=1)
    on = (np.arange(steps.size) + 1) % period == 0
    return float(steps[on].mean() / max(steps[~on].mean(), 1e-6))


def smooth_work_image(size: int = 64, seed: int = 0) -> Image.Image:
    """A smooth random image, as the model's 64 px work image."""
    rng = np.random.default_rng(seed)
    small = rng.integers(40, 220, (8, 8, 3), dtype=np.uint8)
    return Image.fromarray(small).resize((size, size), Image.Resampling.BICUBIC)


def test_work_image_upscale_adds_no_block_grid():
    """The 64 px work image pasted into a 512 px source (8× up) has no 8-px period texture:
    a blocky (nearest) resample would; the smooth one matches a bicubic reference."""
    work = smooth_work_image()
    source = Image.new("RGB", (512, 512), (128, 128, 128))
    mask = np.full((512, 512), 255, np.uint8)
    out = np.asarray(paste_back(source, work, mask, (0, 0, 512, 512), 4))
    reference = np.asarray(work.resize((512, 512), Image.Resampling.BICUBIC))
    blocky = np.asarray(work.resize((512, 512), Image.Resampling.NEAREST))
    assert grid_ratio(blocky, 8) > 5 * grid_ratio(reference, 8)
    assert grid_ratio(out, 8) < 1.1 * grid_ratio(reference, 8)


def test_colour_drift_is_removed_at_the_mask_edge_and_outside_is_exact():
    """A generated crop with a +30 drift on red: no colour step remains at the mask edge, the
    new content inside is kept, and pixels outside the feather are the source's exactly."""
    rng = np.random.default_rng(1)
    src = np.clip(rng.normal(120, 6, (64, 64, 3)), 0, 255).astype(np.uint8)
    gen = src.astype(np.int16) + np.array([30, 0, 0], np.int16)
    gen[24:40, 24:40] = (40, 200, 40)  # the new content
    mask = np.zeros((64, 64), np.uint8)
    mask[20:44, 20:44] = 255
    out = np.asarray(paste_back(Image.fromarray(src), Image.fromarray(gen.astype(np.uint8)),
                                mask, (0, 0, 64, 64), 4)).astype(int)
    ring_in = np.zeros((64, 64), bool)
    ring_in[21:43, 21:43] = True
    ring_in[23:41, 23:41] = False
    assert abs(out[ring_in][:, 0].mean() - src[ring_in][:, 0].mean()) < 6  # drift removed
    # the new content is kept, less the drift (+30 red) that the model added everywhere
    assert np.abs(out[28:36, 28:36] - (10, 200, 40)).max() < 6
    keep = feather(mask, 4) == 0
    assert np.array_equal(out[keep], src[keep])
