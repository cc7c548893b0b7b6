"""Step progress and an honest ETA from measured step times."""

from __future__ import annotations

import time
from collections.abc import Callable


class ProgressTracker:
    """Tracks k/N over a batch and estimates the time left from recent step durations."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.reset(1)

    def reset(self, images: int) -> None:
        self.images = max(1, images)
        self.image_index = 0
        self.step = 0
        self.total = 0
        self._start = self._clock()
        self._last_step_time: float | None = None
        self._step_seconds: list[float] = []

    def next_image(self) -> None:
        self.image_index = min(self.image_index + 1, self.images - 1)
        self.step = 0
        self._last_step_time = None

    def update(self, step: int, total: int) -> None:
        now = self._clock()
        if self._last_step_time is not None and step > self.step:
            self._step_seconds.append((now - self._last_step_time) / (step - self.step))
            self._step_seconds = self._step_seconds[-20:]
        self._last_step_time = now
        self.step, self.total = step, total

    @property
    def fraction(self) -> float:
        return progress_fraction(self.step, self.total, self.image_index, self.images)

    def eta_seconds(self) -> float | None:
        """Seconds left, or None until two steps have been timed."""
        if not self._step_seconds or not self.total:
            return None
        per_step = sorted(self._step_seconds)[len(self._step_seconds) // 2]
        steps_left = (self.total - self.step) + (self.images - self.image_index - 1) * self.total
        return per_step * steps_left

    def describe(self) -> str:
        return describe_steps(self.step, self.total, self.image_index, self.images,
                                 self.eta_seconds())


def progress_fraction(step: int, total: int, image: int = 0, images: int = 1) -> float:
    """How much of a job of `images` images is done, 0..1."""
    if not total:
        return 0.0
    return (image + step / total) / max(1, images)


def describe_steps(step: int, total: int, image: int = 0, images: int = 1,
                      eta: float | None = None) -> str:
    """'Image 2/3 · Step 5/25 · ETA 4s' (the image part only for batches)."""
    text = f"Step {step}/{total}"
    if images > 1:
        text = f"Image {image + 1}/{images} · " + text
    if eta is not None:
        text += f" · ETA {format_duration(eta)}"
    return text


def format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"
