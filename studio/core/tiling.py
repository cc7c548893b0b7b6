"""Overlapping tiles blended without seams, written into a bounded output buffer (pure numpy).

A source is cut into `tile`-sized tiles that overlap by `overlap` pixels. Each upscaled tile is
weighted by a raised-cosine ramp across the overlap (zero in a thin outer margin, where a
model's zero padding hurts most) and the weighted sum is normalised by the summed weights, so
the weights of every output pixel add up to 1 and no tile border shows.

Memory stays bounded: the float accumulator only spans one row band of tiles; finished rows
are divided by their weights and written into the uint8 output as soon as no later tile can
touch them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

TileFn = Callable[[np.ndarray], np.ndarray]  # float32 HxWx3 in [0,1] -> (sH)x(sW)x3
TileHook = Callable[[int, int, "Tile"], None]  # (index, count, tile) before each tile


@dataclass(frozen=True)
class Tile:
    """A source rectangle (input pixels) and its place in the grid."""

    x: int
    y: int
    width: int
    height: int
    first_col: bool
    last_col: bool
    first_row: bool
    last_row: bool


def axis_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Tile starts along one axis: stride `tile - overlap`, the last one flush with the end."""
    if length <= tile:
        return [0]
    stride = max(1, tile - overlap)
    starts = list(range(0, length - tile, stride))
    starts.append(length - tile)
    return starts


def tile_grid(width: int, height: int, tile: int, overlap: int) -> list[Tile]:
    """Row-major tiles covering a `width` x `height` source."""
    xs, ys = axis_starts(width, tile, overlap), axis_starts(height, tile, overlap)
    tw, th = min(tile, width), min(tile, height)
    return [Tile(x, y, tw, th, i == 0, i == len(xs) - 1, j == 0, j == len(ys) - 1)
            for j, y in enumerate(ys) for i, x in enumerate(xs)]


def auto_tile(width: int, height: int, preferred: int, overlap: int | None = None,
              balance: bool = True) -> tuple[int, int]:
    """(tile, overlap) for a source: one tile when it fits, else at most `preferred` px tiles
    overlapping by `overlap` (default: 1/8 of a tile).

    With `balance`, the tile shrinks to the smallest size (a multiple of 8) that needs no more
    tiles: 512 px at 256/32 becomes 3 tiles of 192 instead of 3 of 256, 26% less work.
    """
    longest = max(width, height)
    if longest <= preferred:
        return longest, 0 if overlap is None else min(overlap, longest // 2)
    overlap = max(8, preferred // 8) if overlap is None else overlap
    overlap = min(overlap, preferred // 2)
    if not balance:
        return preferred, overlap
    tile = 0
    for length in (width, height):
        count = 1 if length <= preferred else \
            math.ceil((length - overlap) / max(1, preferred - overlap))
        even = math.ceil((length + (count - 1) * overlap) / count)
        tile = max(tile, min(preferred, math.ceil(even / 8) * 8))
    return tile, min(overlap, tile // 2)


def ramp(length: int, overlap: int, lead: bool, trail: bool) -> np.ndarray:
    """1-D weights: raised-cosine rise over the first `overlap` px (if `lead`), fall at the end.

    Mirrored ramps of two neighbours overlapping by exactly `overlap` sum to 1; the outer
    quarter of the overlap gets weight 0 (edge effects of the model stay invisible).
    """
    weights = np.ones(length, dtype=np.float32)
    if overlap <= 0:
        return weights
    margin = overlap / 4.0
    span = max(overlap - 2.0 * margin, 1.0)
    pos = np.arange(length, dtype=np.float32) + 0.5
    rise = 0.5 - 0.5 * np.cos(np.pi * np.clip((pos - margin) / span, 0.0, 1.0))
    if lead:
        weights *= rise
    if trail:
        weights *= rise[::-1]
    return weights


def tile_weights(tile: Tile, out_w: int, out_h: int, overlap_out: int) -> np.ndarray:
    """2-D weights (out_h x out_w) of one upscaled tile; no ramp on the image's own edges."""
    wx = ramp(out_w, overlap_out, not tile.first_col, not tile.last_col)
    wy = ramp(out_h, overlap_out, not tile.first_row, not tile.last_row)
    return wy[:, None] * wx[None, :]


class TileBlender:
    """Accumulates weighted tiles in a one-row-band float buffer, flushing finished rows."""

    def __init__(self, width: int, height: int, band_height: int, channels: int = 3) -> None:
        self.output = np.zeros((height, width, channels), dtype=np.uint8)
        self.band_height = band_height
        self.acc = np.zeros((band_height, width, channels), dtype=np.float32)
        self.wsum = np.zeros((band_height, width), dtype=np.float32)
        self.band_y = 0  # output row of acc[0]

    def add(self, x: int, y: int, pixels: np.ndarray, weights: np.ndarray) -> None:
        """Add `pixels` (h x w x C, floats in [0,1]) weighted by `weights` at output (x, y)."""
        if y > self.band_y:
            self._flush_to(y)
        h, w = weights.shape
        top = y - self.band_y
        self.acc[top:top + h, x:x + w] += pixels * weights[..., None]
        self.wsum[top:top + h, x:x + w] += weights

    def _flush_to(self, y: int) -> None:
        rows = min(y - self.band_y, self.band_height)
        end = min(self.band_y + rows, self.output.shape[0])
        done = end - self.band_y
        if done > 0:
            self.output[self.band_y:end] = _to_uint8(self.acc[:done], self.wsum[:done])
        self.acc = np.roll(self.acc, -rows, axis=0)
        self.wsum = np.roll(self.wsum, -rows, axis=0)
        self.acc[-rows:] = 0.0
        self.wsum[-rows:] = 0.0
        self.band_y = y

    def finish(self) -> np.ndarray:
        """Flush the last band and return the uint8 output."""
        self._flush_to(self.output.shape[0])
        return self.output

    def peek_region(self, x0: int, y0: int, x1: int, y1: int) -> tuple[np.ndarray, np.ndarray]:
        """The output so far inside [x0, x1) x [y0, y1), uint8, and where it is known
        (flushed rows, or band pixels some tile has weighted)."""
        y1 = min(y1, self.output.shape[0])
        view = self.output[y0:y1, x0:x1].copy()
        known = np.zeros(view.shape[:2], dtype=bool)
        known[: max(0, min(y1, self.band_y) - y0)] = True
        lo, hi = max(y0, self.band_y), min(y1, self.band_y + self.band_height)
        if hi > lo:
            acc = self.acc[lo - self.band_y:hi - self.band_y, x0:x1]
            wsum = self.wsum[lo - self.band_y:hi - self.band_y, x0:x1]
            covered = wsum > 0
            view[lo - y0:hi - y0][covered] = _to_uint8(acc, wsum)[covered]
            known[lo - y0:hi - y0] = covered
        return view, known


def _to_uint8(acc: np.ndarray, wsum: np.ndarray) -> np.ndarray:
    values = acc / np.maximum(wsum, 1e-8)[..., None]
    return np.clip(np.rint(values * 255.0), 0, 255).astype(np.uint8)


def upscale_tiled(source: np.ndarray, fn: TileFn, scale: int, tile: int, overlap: int,
                  before_tile: TileHook | None = None,
                  after_tile: Callable[[int, int, Tile, TileBlender], None] | None = None
                  ) -> np.ndarray:
    """Upscale an HxWx3 uint8 `source` by `scale` tile by tile; returns (sH)x(sW)x3 uint8.

    `before_tile` may raise (e.g. to cancel) — nothing is returned then, the source is
    never modified.
    """
    height, width = source.shape[:2]
    tiles = tile_grid(width, height, tile, overlap)
    blender = TileBlender(width * scale, height * scale, min(tile, height) * scale)
    for index, t in enumerate(tiles):
        if before_tile is not None:
            before_tile(index, len(tiles), t)
        crop = source[t.y:t.y + t.height, t.x:t.x + t.width].astype(np.float32) / 255.0
        out = fn(crop)
        expected = (t.height * scale, t.width * scale)
        if out.shape[:2] != expected:
            raise ValueError(f"tile upscaler returned {out.shape[:2]}, expected {expected}")
        blender.add(t.x * scale, t.y * scale, out, tile_weights(t, *expected[::-1],
                                                                 overlap * scale))
        if after_tile is not None:
            after_tile(index, len(tiles), t, blender)
    return blender.finish()


def tile_borders(length: int, tile: int, overlap: int, scale: int) -> list[int]:
    """Output coordinates along one axis where a tile starts or ends (inside the image)."""
    starts = axis_starts(length, tile, overlap)
    size = min(tile, length)
    edges = {s * scale for s in starts} | {(s + size) * scale for s in starts}
    return sorted(e for e in edges if 0 < e < length * scale)


def seam_ratio(image: np.ndarray, borders_x: list[int], borders_y: list[int],
               phase: int = 1) -> float:
    """Mean |gradient| across tile borders divided by the mean |gradient| across other lines.

    ≈1 means the borders are statistically invisible; a visible seam moves it away from 1.
    Only lines at the same position modulo `phase` (the scale: borders sit on multiples of
    it, and an upscaler's steps between source pixels differ from those inside one) are
    compared.
    """
    img = image.astype(np.float32)
    if img.ndim == 3:
        img = img.mean(axis=2)
    gx = np.abs(np.diff(img, axis=1)).mean(axis=0)  # gx[i]: step between columns i and i+1
    gy = np.abs(np.diff(img, axis=0)).mean(axis=1)
    at, ref = [], []
    for grad, borders in ((gx, borders_x), (gy, borders_y)):
        lines = set(b - 1 for b in borders if 0 < b <= len(grad))
        at += [grad[i] for i in lines]
        ref += [grad[i] for i in range(phase - 1, len(grad), phase) if i not in lines]
    if not at or not ref:
        return 1.0
    return float(np.mean(at)) / max(float(np.mean(ref)), 1e-8)
