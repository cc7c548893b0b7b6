"""Seam metrics for edits: boundary rings, seam ratio, CIE Lab / ΔE2000 colour step, grid peak."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

SIDE = 3  # px from the boundary where the reference gradient is measured


def _morph(region: np.ndarray, k: int, grow: bool) -> np.ndarray:
    """Dilate (grow) or erode `region` by k px (square), the image edge replicated."""
    if k <= 0:
        return region
    padded = np.pad(region.astype(np.uint8) * 255, k, mode="edge")
    size = 2 * k + 1
    filt = ImageFilter.MaxFilter(size) if grow else ImageFilter.MinFilter(size)
    out = np.asarray(Image.fromarray(padded).filter(filt)) > 127
    return out[k:-k, k:-k]


def split_rings(inside: np.ndarray) -> dict:
    """Boundary (inside pixels touching outside), rings at SIDE px and 2-px colour bands."""
    er = {k: _morph(inside, k, False) for k in (1, 3, SIDE, SIDE + 1)}
    di = {k: _morph(inside, k, True) for k in (2, SIDE - 1, SIDE)}
    return {"boundary": inside & ~er[1],
            "in_side": er[SIDE] & ~er[SIDE + 1], "out_side": di[SIDE] & ~di[SIDE - 1],
            "in_band": er[1] & ~er[3], "out_band": di[2] & ~inside}


def gradient(image: np.ndarray) -> np.ndarray:
    """Per-pixel gradient magnitude (central differences), averaged over the channels."""
    img = image.astype(np.float32)
    gy, gx = np.gradient(img, axis=(0, 1))
    mag = np.sqrt(gx**2 + gy**2)
    return mag.mean(axis=2) if mag.ndim == 3 else mag


def seam_ratio(image: np.ndarray, rings: dict) -> float:
    g = gradient(image)
    if not rings["boundary"].any() or not rings["in_side"].any() or not rings["out_side"].any():
        return 1.0
    side = (g[rings["in_side"]].mean() + g[rings["out_side"]].mean()) / 2
    return float(g[rings["boundary"]].mean() / max(side, 0.5))


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB (uint8, D65) to CIE L*a*b*."""
    c = rgb.astype(np.float64) / 255
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    m = np.array([[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750],
                  [0.0193339, 0.1191920, 0.9503041]])
    xyz = lin @ m.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]),
                     200 * (f[..., 1] - f[..., 2])], axis=-1)


def delta_e2000(lab1: np.ndarray, lab2: np.ndarray) -> float:
    """CIEDE2000 colour difference of two Lab colours (Sharma et al. 2005)."""
    (l1, a1, b1), (l2, a2, b2) = lab1, lab2
    cbar = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(cbar**7 / (cbar**7 + 25.0**7)))
    a1p, a2p = a1 * (1 + g), a2 * (1 + g)
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p, h2p = np.degrees(np.arctan2(b1, a1p)) % 360, np.degrees(np.arctan2(b2, a2p)) % 360
    dh = h2p - h1p - 360 * np.sign(h2p - h1p) * (abs(h2p - h1p) > 180)
    dhp = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh / 2))
    hbar = (h1p + h2p + 360 * (abs(h1p - h2p) > 180)) / 2
    if c1p * c2p == 0:
        hbar = h1p + h2p
    t = (1 - 0.17 * np.cos(np.radians(hbar - 30)) + 0.24 * np.cos(np.radians(2 * hbar))
         + 0.32 * np.cos(np.radians(3 * hbar + 6)) - 0.20 * np.cos(np.radians(4 * hbar - 63)))
    lbar, cbarp = (l1 + l2) / 2, (c1p + c2p) / 2
    sl = 1 + 0.015 * (lbar - 50) ** 2 / np.sqrt(20 + (lbar - 50) ** 2)
    sc, sh = 1 + 0.045 * cbarp, 1 + 0.015 * cbarp * t
    rt = (-2 * np.sqrt(cbarp**7 / (cbarp**7 + 25.0**7))
          * np.sin(np.radians(60 * np.exp(-(((hbar - 275) / 25) ** 2)))))
    dl, dc = (l2 - l1) / sl, (c2p - c1p) / sc
    return float(np.sqrt(dl**2 + dc**2 + (dhp / sh) ** 2 + rt * dc * dhp / sh))


def color_step(image: np.ndarray, rings: dict) -> float:
    """ΔE2000 between the mean Lab colours of the bands just inside and just outside."""
    if not rings["in_band"].any() or not rings["out_band"].any():
        return 0.0
    lab = rgb_to_lab(image[..., :3])
    return delta_e2000(lab[rings["in_band"]].mean(axis=0), lab[rings["out_band"]].mean(axis=0))


def grid_peak(image: np.ndarray, cell: int) -> float:
    """Power at the `cell`-px period (mean row/column spectrum) over its neighbouring bins:
    ≈1 for natural content, well above 1 for a latent-cell grid."""
    y = image.astype(np.float32).mean(axis=2) if image.ndim == 3 else image.astype(np.float32)
    side = min(y.shape)
    y = y[:side, :side] - y[:side, :side].mean()
    power = (np.abs(np.fft.rfft(y, axis=1)) ** 2).mean(axis=0)
    power = power + (np.abs(np.fft.rfft(y, axis=0)) ** 2).mean(axis=1)
    b = y.shape[1] // cell
    near = [power[i] for i in (b - 2, b - 1, b + 1, b + 2) if 0 < i < power.size]
    return float(power[b] / max(np.mean(near), 1e-8))
