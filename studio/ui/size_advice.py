"""An inline warning when the chosen size is far from the size the model was trained at."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QLabel, QPushButton, QVBoxLayout, QWidget

TOO_LARGE, TOO_SMALL = 1.5, 0.5  # of the native side
CASCADE_FACTORS = (2, 4)  # what the Upscale combo (built-in SR cascade) offers
HIRES_FACTORS = (1.5, 2.0, 2.5, 3.0, 4.0)  # what the Hires. fix combo offers
_MIN_SIDE, _STEP = 64, 8  # the size boxes' minimum and step


@dataclass(frozen=True)
class SizeAdvice:
    """What to tell the user about a size: the message and the size to offer instead."""

    message: str
    width: int
    height: int
    upscale_by: int = 1  # > 1: generate at (width, height) and upscale by this
    hires_scale: float = 1.0  # > 1: generate at (width, height) with Hires. fix by this

    @property
    def action(self) -> str:
        size = f"{self.width}×{self.height}"
        if self.upscale_by > 1:
            return f"Generate at {size} and upscale ×{self.upscale_by}"
        if self.hires_scale > 1:
            return f"Generate at {size} with Hires. fix ×{self.hires_scale:g}"
        return f"Use {size}"


def _native_size(width: int, height: int, native: int) -> tuple[int, int]:
    """The size with the long side at `native`, keeping the aspect ratio (multiples of 8)."""
    scale = native / max(width, height)

    def side(value: int) -> int:
        return max(_MIN_SIDE, round(value * scale / _STEP) * _STEP)

    return side(width), side(height)


def advise_size(width: int, height: int, native: int | None, cascade: bool) -> SizeAdvice | None:
    """None when (width, height) suits a model trained at `native` px; else the advice.

    With `cascade` (the built-in SR upscaler suits the model) a size that is exactly 2× or 4×
    the native one is offered as "generate at native size and upscale"; any other size too
    large is offered as "generate at native size with Hires. fix" by the closest factor.
    """
    if not native:
        return None
    ratio = max(width, height) / native
    if TOO_SMALL <= ratio <= TOO_LARGE:
        return None
    small_w, small_h = _native_size(width, height, native)
    size = f"{width}×{height}"
    if ratio < TOO_SMALL:
        return SizeAdvice(f"{size} is much smaller than the {native}×{native} this model "
                          "was trained at: expect blurry or broken shapes.", small_w, small_h)
    message = (f"{size} is {ratio:.1f}× the {native}×{native} this model was trained at: "
               "expect repeated, tiled shapes.")
    factor = round(ratio)
    if cascade and factor in CASCADE_FACTORS and (small_w * factor, small_h * factor) == (
            width, height):
        return SizeAdvice(message, small_w, small_h, factor)
    hires = min(HIRES_FACTORS, key=lambda f: abs(f - ratio))
    return SizeAdvice(message + " Generate at the model's size and let Hires. fix enlarge it "
                      "and redraw the details at the larger size.", small_w, small_h,
                      hires_scale=hires)


class SizeWarning(QFrame):
    """Warning text plus one button that applies the advice; hidden when the size is fine."""

    apply_requested = Signal(object)  # SizeAdvice

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sizeWarning")
        self.setStyleSheet("#sizeWarning { background:#5a4a1e; border:1px solid #a83;"
                           " border-radius:4px; } QLabel { color:#fff2cc; }")
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.button = QPushButton()
        self.button.clicked.connect(lambda: self.apply_requested.emit(self.advice))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.addWidget(self.label)
        layout.addWidget(self.button)
        self.advice: SizeAdvice | None = None
        self.hide()

    def show_advice(self, advice: SizeAdvice | None) -> None:
        self.advice = advice
        if advice is None:
            self.hide()
            return
        self.label.setText(advice.message)
        self.button.setText(advice.action)
        self.show()
