"""The Explore tab's widgets: forward process, recorded reverse process, one training step."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from studio.core.explore_requests import NoiseStepResult, StepFrame
from studio.core.noise_schedule import NoiseSchedule
from studio.ui.plot import LinePlot, Series
from studio.ui.qimages import qimage_from_array

TILE = 128


class ImageTile(QWidget):
    """A captioned image, scaled to a fixed box (nearest for tiny latent projections)."""

    def __init__(self, caption: str, side: int = TILE) -> None:
        super().__init__()
        self.side = side
        self.array: np.ndarray | None = None
        self.image = QLabel()
        self.image.setFixedSize(side, side)
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setStyleSheet("background: #1f2023;")
        self.caption = QLabel(caption)
        self.caption.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.image)
        layout.addWidget(self.caption)

    def set_array(self, array: np.ndarray | None) -> None:
        self.array = array
        if array is None:
            self.image.clear()
            return
        small = max(array.shape[:2]) < self.side // 2
        mode = (Qt.TransformationMode.FastTransformation if small
                else Qt.TransformationMode.SmoothTransformation)
        pixmap = QPixmap.fromImage(qimage_from_array(array))
        self.image.setPixmap(pixmap.scaled(self.side, self.side,
                                           Qt.AspectRatioMode.KeepAspectRatio, mode))


def _row(*widgets: QWidget) -> QHBoxLayout:
    layout = QHBoxLayout()
    for widget in widgets:
        layout.addWidget(widget)
    layout.addStretch(1)
    return layout


def _slider(maximum: int) -> QSlider:
    slider = QSlider(Qt.Orientation.Horizontal)
    slider.setRange(0, maximum)
    return slider


class ExplorePanel(QScrollArea):
    """Signals ask the controller for work; `show_*` methods display what came back."""

    source_wanted = Signal()
    forward_changed = Signal()
    record_requested = Signal()
    export_requested = Signal(str)  # "png" or "gif"
    noise_step_requested = Signal()
    latent_forward_requested = Signal()
    frame_changed = Signal(int)

    def __init__(self) -> None:
        super().__init__()
        self.setWidgetResizable(True)
        body = QWidget()
        self.setWidget(body)
        column = QVBoxLayout(body)
        self.use_canvas = QPushButton("Use canvas image")
        self.source_label = QLabel("No image yet: generate one or open one on the canvas.")
        self.source_label.setWordWrap(True)
        column.addLayout(_row(self.use_canvas))
        column.addWidget(self.source_label)
        column.addWidget(self._forward_box())
        column.addWidget(self._reverse_box())
        column.addWidget(self._training_box())
        column.addStretch(1)
        self.use_canvas.clicked.connect(self.source_wanted)

    def _forward_box(self) -> QGroupBox:
        box = QGroupBox("Forward process  q(x_t | x0)")
        layout = QVBoxLayout(box)
        self.t_slider = _slider(999)
        self.t_slider.setValue(250)
        self.noise_seed = QSpinBox()
        self.noise_seed.setRange(0, 2**31 - 1)
        self.forward_label = QLabel()
        self.forward_label.setWordWrap(True)
        self.forward_source = ImageTile("x0", 118)
        self.forward_noisy = ImageTile("x_t (pixels)", 118)
        self.forward_latent = ImageTile("x_t (latent)", 118)
        self.latent_button = QPushButton("Latent x_t")
        self.latent_button.setToolTip("Noise the image's VAE latent to t (in the engine) and "
                                      "decode it: what a latent model actually sees")
        self.plot = LinePlot("timestep t", "ᾱ_t", "log SNR")
        layout.addLayout(_row(QLabel("t"), self.t_slider, QLabel("ε seed"), self.noise_seed))
        layout.addWidget(self.forward_label)
        layout.addLayout(_row(self.forward_source, self.forward_noisy, self.forward_latent))
        layout.addLayout(_row(self.latent_button))
        layout.addWidget(self.plot)
        self.t_slider.valueChanged.connect(self.forward_changed)
        self.noise_seed.valueChanged.connect(self.forward_changed)
        self.latent_button.clicked.connect(self.latent_forward_requested)
        return box

    def _reverse_box(self) -> QGroupBox:
        box = QGroupBox("Reverse process (a recorded generation)")
        layout = QVBoxLayout(box)
        self.record_button = QPushButton("Record a generation")
        self.record_button.setToolTip("Runs the Generate tab's settings (one image) and keeps "
                                      "x_t, predicted noise and predicted x0 of every step")
        self.step_slider = _slider(0)
        self.step_slider.setEnabled(False)
        self.step_label = QLabel("Nothing recorded yet.")
        self.step_tiles = [ImageTile(c, 118) for c in ("x_t", "predicted noise ε̂",
                                                      "predicted x̂0")]
        self.export_png = QPushButton("Export PNG…")
        self.export_gif = QPushButton("Export GIF/WebP…")
        for button in (self.export_png, self.export_gif):
            button.setEnabled(False)
        layout.addLayout(_row(self.record_button))
        layout.addWidget(self.step_slider)
        layout.addWidget(self.step_label)
        layout.addLayout(_row(*self.step_tiles))
        layout.addLayout(_row(self.export_png, self.export_gif))
        self.record_button.clicked.connect(self.record_requested)
        self.step_slider.valueChanged.connect(self.frame_changed)
        self.export_png.clicked.connect(lambda: self.export_requested.emit("png"))
        self.export_gif.clicked.connect(lambda: self.export_requested.emit("gif"))
        return box

    def _training_box(self) -> QGroupBox:
        box = QGroupBox("One training step")
        layout = QVBoxLayout(box)
        self.train_t = QSpinBox()
        self.train_t.setRange(0, 999)
        self.train_t.setValue(500)
        self.train_button = QPushButton("Noise it and predict")
        self.train_label = QLabel("Adds seeded noise to the image's latent at t and shows the "
                                  "model's predicted noise next to the true noise.")
        self.train_label.setWordWrap(True)
        grid = QGridLayout()
        names = ("x_t (decoded)", "true noise ε", "predicted ε̂", "predicted x̂0")
        self.train_tiles = [ImageTile(n, 118) for n in names]
        for i, tile in enumerate(self.train_tiles):
            grid.addWidget(tile, i // 2, i % 2)
        layout.addLayout(_row(QLabel("t"), self.train_t, self.train_button))
        layout.addWidget(self.train_label)
        layout.addLayout(grid)
        self.train_button.clicked.connect(self.noise_step_requested)
        return box

    # ----- display --------------------------------------------------------------------------
    def show_schedule(self, schedule: NoiseSchedule) -> None:
        ts = np.arange(schedule.steps)
        self.plot.set_series([
            Series("ᾱ_t", ts, schedule.alphas_cumprod, "#5b8def"),
            Series("log SNR", ts, schedule.log_snr(), "#e0707a", right_axis=True),
        ])

    def show_forward(self, schedule: NoiseSchedule, x0: np.ndarray | None,
                     xt: np.ndarray | None) -> None:
        t = self.t_slider.value()
        signal, sigma = schedule.coefficients(t)
        snr = float(schedule.log_snr()[t])
        self.forward_label.setText(
            f"t = {t}:  x_t = {signal:.3f}·x0 + {sigma:.3f}·ε   (ᾱ_t = {signal**2:.4f}, "
            f"log SNR = {snr:.2f})")
        self.plot.set_marker(t, f"t = {t}")
        self.forward_source.set_array(x0)
        self.forward_noisy.set_array(xt)

    def show_frames(self, count: int) -> None:
        self.step_slider.setRange(0, max(0, count - 1))
        self.step_slider.setEnabled(count > 0)
        self.step_slider.setValue(max(0, count - 1))
        for button in (self.export_png, self.export_gif):
            button.setEnabled(count > 0)

    def show_frame(self, frame: StepFrame, count: int) -> None:
        self.step_label.setText(f"Step {frame.index + 1} of {count}  ·  timestep t = "
                                f"{frame.timestep}")
        for tile, array in zip(self.step_tiles, (frame.xt, frame.eps, frame.x0), strict=True):
            tile.set_array(array)

    def show_noise_step(self, result: NoiseStepResult) -> None:
        arrays = (result.noisy, result.noise, result.predicted, result.x0)
        for tile, array in zip(self.train_tiles, arrays, strict=True):
            tile.set_array(array)
        self.train_label.setText(f"t = {result.timestep}:  MSE(ε̂, ε) = {result.mse:.4f}  "
                                 "(the training loss at this t; 1.0 ≈ guessing zero)")
