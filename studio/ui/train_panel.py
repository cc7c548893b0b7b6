"""The Train tab: a folder of images, a size preset and steps; live loss curve and samples."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from studio.core.train_request import TRAIN_PRESETS as PRESETS
from studio.ui.plot import LinePlot, Series

MODEL_HINT = "Uses the selected model's VAE; the result joins the model list."
LORA_HINT = ("Adapts the selected model; the file joins your LoRAs, used as <lora:NAME:1> in "
             "a prompt.")


def smoothed(values: list[float], weight: float = 0.9) -> np.ndarray:
    """Exponential moving average, bias-corrected (so the first values are not pulled to 0)."""
    out, average = np.empty(len(values)), 0.0
    for i, value in enumerate(values):
        average = weight * average + (1 - weight) * value
        out[i] = average / (1 - weight ** (i + 1))
    return out


class TrainPanel(QScrollArea):
    """Widgets only; the controller runs the session."""

    browse_requested = Signal()
    start_requested = Signal()
    pause_requested = Signal()
    cancel_requested = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.setWidgetResizable(True)
        body = QWidget()
        self.setWidget(body)
        column = QVBoxLayout(body)
        self.what = QComboBox()
        self.what.addItem("A new model", "model")
        self.what.addItem("A LoRA for the selected model", "lora")
        self.what.setToolTip("A new model learns from scratch (reusing the selected model's "
                             "VAE); a LoRA adapts the selected model with a small file used "
                             "as <lora:NAME:1> in prompts")
        self.folder = QLineEdit()
        self.folder.setPlaceholderText("a folder of images (captions: sidecar .txt files)")
        self.browse = QPushButton("…")
        self.name = QLineEdit("my-model")
        self.preset = QComboBox()
        self.preset.addItems(list(PRESETS))
        self.steps = QSpinBox()
        self.steps.setRange(1, 100_000)
        self.steps.setValue(500)
        self.size = QSpinBox()
        self.size.setRange(16, 512)
        self.size.setSingleStep(16)
        self.size.setValue(64)
        self.rank = QSpinBox()
        self.rank.setRange(1, 128)
        self.rank.setValue(4)
        self.rank.setToolTip("Adapter rank: higher learns more and makes a bigger file")
        self.caption = QLineEdit()
        self.caption.setPlaceholderText("for images without a .txt caption (optional)")
        self.text_encoder = QCheckBox("Also adapt the text encoder")
        self.text_encoder.setToolTip("Adapters on the text encoder too: learns new words "
                                     "better, a bigger file")
        form = QFormLayout()
        self.form = form
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(self.browse)
        form.addRow("Train", self.what)
        form.addRow("Images", folder_row)
        form.addRow("Name", self.name)
        form.addRow("Size preset", self.preset)
        form.addRow("Steps", self.steps)
        form.addRow("Image size", self.size)
        form.addRow("Rank", self.rank)
        form.addRow("Caption", self.caption)
        form.addRow("", self.text_encoder)
        column.addLayout(form)
        column.addLayout(self._buttons())
        self.status = QLabel(MODEL_HINT)
        self.status.setWordWrap(True)
        column.addWidget(self.status)
        self.loss_plot = LinePlot("step", "loss (MSE)")
        column.addWidget(self.loss_plot)
        self.samples = QLabel()
        self.samples.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.samples.setMinimumHeight(100)
        self.samples_label = QLabel()
        column.addWidget(self.samples_label)
        column.addWidget(self.samples)
        column.addStretch(1)
        self.browse.clicked.connect(self.browse_requested)
        self.what.currentIndexChanged.connect(lambda _: self._show_kind())
        self._show_kind()

    @property
    def lora(self) -> bool:
        """Whether the panel trains a LoRA for the selected model (else a new model)."""
        return self.what.currentData() == "lora"

    def _show_kind(self) -> None:
        lora = self.lora
        for widget, shown in ((self.preset, not lora), (self.size, not lora),
                              (self.rank, lora), (self.caption, lora),
                              (self.text_encoder, lora)):
            self.form.setRowVisible(widget, shown)
        if self.name.text() in ("my-model", "my-lora"):
            self.name.setText("my-lora" if lora else "my-model")
        self.status.setText(LORA_HINT if lora else MODEL_HINT)
        self.samples_label.setText("Samples (the model with the adapters, fixed seed)" if lora
                                   else "Samples (EMA weights, fixed seed)")

    def _buttons(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.start = QPushButton("Start training")
        self.pause = QPushButton("Pause")
        self.cancel = QPushButton("Cancel")
        for button in (self.start, self.pause, self.cancel):
            row.addWidget(button)
        self.start.clicked.connect(self.start_requested)
        self.pause.clicked.connect(self.pause_requested)
        self.cancel.clicked.connect(self.cancel_requested)
        self.set_running(False)
        return row

    def set_running(self, running: bool, paused: bool = False) -> None:
        self.start.setEnabled(not running)
        self.pause.setEnabled(running)
        self.cancel.setEnabled(running)
        self.pause.setText("Resume" if paused else "Pause")
        for widget in (self.what, self.folder, self.browse, self.name, self.preset, self.steps,
                       self.size, self.rank, self.caption, self.text_encoder):
            widget.setEnabled(not running)

    def show_losses(self, losses: list[float]) -> None:
        steps = np.arange(1, len(losses) + 1)
        self.loss_plot.set_series([
            Series("loss", steps, np.asarray(losses), "#5b8def"),
            Series("smoothed", steps, smoothed(losses), "#f0c040"),
        ])

    def show_samples(self, pixmap: QPixmap) -> None:
        width = max(120, self.samples.width() - 8)
        self.samples.setPixmap(pixmap.scaledToWidth(min(width, max(pixmap.width(), width)),
                                                    Qt.TransformationMode.FastTransformation))
