"""Outpaint handles on the canvas border: where they are and what a drag asks for.

Geometry only (widget coordinates in, image pixels out); the canvas draws and routes the
mouse. A handle is a small tab just outside the middle of each image edge, so it never
competes with the mask brush inside the image.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF

from studio.core.outpaint_sides import MAX_SIDE_EXTEND

SIDES = ("left", "right", "top", "bottom")
LONG, SHORT, GAP = 34.0, 10.0, 3.0  # handle size and distance from the edge, widget px
ROOM = int(GAP + SHORT + 4)  # px a fitted image leaves free on each side for its handles
SNAP = 8  # extensions are whole latent cells


def handle_rects(image: QRectF) -> dict[str, QRectF]:
    """The four handles around `image` (the image's rectangle on the widget)."""
    cx, cy = image.center().x(), image.center().y()
    return {
        "left": QRectF(image.left() - GAP - SHORT, cy - LONG / 2, SHORT, LONG),
        "right": QRectF(image.right() + GAP, cy - LONG / 2, SHORT, LONG),
        "top": QRectF(cx - LONG / 2, image.top() - GAP - SHORT, LONG, SHORT),
        "bottom": QRectF(cx - LONG / 2, image.bottom() + GAP, LONG, SHORT),
    }


def handle_at(image: QRectF, point: QPointF, slack: float = 4.0) -> str | None:
    """The side whose handle is under `point` (with `slack` px to spare), or None."""
    for side, rect in handle_rects(image).items():
        if rect.adjusted(-slack, -slack, slack, slack).contains(point):
            return side
    return None


def dragged_pixels(side: str, start: QPointF, now: QPointF, zoom: float) -> int:
    """Image pixels to add on `side` for a drag from `start` to `now` (outward only),
    snapped to whole latent cells and capped at MAX_SIDE_EXTEND."""
    delta = now - start
    outward = {"left": -delta.x(), "right": delta.x(), "top": -delta.y(),
               "bottom": delta.y()}[side]
    pixels = max(0.0, outward) / max(zoom, 1e-6)
    return min(MAX_SIDE_EXTEND, int(round(pixels / SNAP)) * SNAP)


def extended_rect(image: QRectF, sides: dict[str, int], zoom: float) -> QRectF:
    """`image` grown by `sides` (side -> image px; missing sides 0), in widget coordinates."""
    grow = {side: sides.get(side, 0) * zoom for side in SIDES}
    return QRectF(QPointF(image.left() - grow["left"], image.top() - grow["top"]),
                  QPointF(image.right() + grow["right"], image.bottom() + grow["bottom"]))
