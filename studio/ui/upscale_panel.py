"""The Upscale tab: source, model, scale, tiling; live tile progress; before/after split view."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import QLineF, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QGuiApplication, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.upscale import UpscaleRequest, UpscalerKind, make_request, open_source
from studio.core.upscaler_catalog import UpscalerChoice, available_upscalers, resolve_upscaler
from studio.ui.panel_layout import scrolled_column
from studio.ui.qimages import qimage_from_pil

_NOT_ENCODED = b"(size-only snapshot)"  # never submitted: info and early validation only
_MODEL_FILTER = ("Upscaler models (*.pth *.pt *.safetensors *.ckpt model_index.json "
                 "config.json)")
_IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff *.gif)"


def pil_from_qimage(image: QImage) -> Image.Image:
    """A QImage as an RGBA (or RGB when opaque) PIL image that owns its pixels."""
    rgba = image.convertToFormat(QImage.Format.Format_RGBA8888)
    width, height = rgba.width(), rgba.height()
    data = np.frombuffer(rgba.constBits(), np.uint8, rgba.sizeInBytes())
    array = data.reshape(height, rgba.bytesPerLine())[:, : width * 4].reshape(height, width, 4)
    pil = Image.fromarray(array.copy(), "RGBA")
    return pil.convert("RGB") if array[..., 3].min() == 255 else pil


def split_view(before: QImage, after: QImage, fraction: float) -> QImage:
    """`before` left of the split, `after` right of it, with a divider line."""
    out = after.convertToFormat(QImage.Format.Format_ARGB32)
    x = round(out.width() * fraction)
    painter = QPainter(out)
    painter.drawImage(QRectF(0, 0, x, out.height()), before, QRectF(0, 0, x, before.height()))
    painter.setPen(QPen(QColor(255, 255, 255, 220), max(1, out.width() // 400)))
    painter.drawLine(QLineF(QPointF(x, 0), QPointF(x, out.height())))
    painter.end()
    return out


class UpscalePanel(QWidget):
    """Snapshots its settings into an UpscaleRequest; emits `upscale_requested`."""

    upscale_requested = Signal(object)  # UpscaleRequest
    cancel_requested = Signal()
    source_wanted = Signal(str)  # "canvas" | "gallery": the window answers with set_source
    compare_changed = Signal()

    def __init__(self, extra_dirs: list[Path] | None = None, parent: QWidget | None = None
                 ) -> None:
        super().__init__(parent)
        self.extra_dirs = extra_dirs if extra_dirs is not None else []
        self.source: Image.Image | None = None
        self.source_name = ""
        self.source_infotext = ""  # carried into the upscaled PNG's parameters
        self._encoded: bytes | None = None
        self._build_source()
        self._build_settings()
        self._build_actions()
        layout, _ = scrolled_column(self)
        layout.addWidget(self.source_box)
        layout.addWidget(self.settings_box)
        layout.addWidget(self.diffusion_box)
        layout.addLayout(self.action_row)
        layout.addWidget(self.status)
        layout.addWidget(self.compare_box)
        layout.addStretch(1)
        self.refresh_models()
        self._update_info()

    # ----- construction -------------------------------------------------------------------
    def _build_source(self) -> None:
        self.source_box = QGroupBox("Source")
        self.thumb = QLabel("No source image")
        self.thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.thumb.setMinimumHeight(120)
        self.thumb.setStyleSheet("QLabel { background: #1f2023; border-radius: 4px; }")
        self.source_label = QLabel("")
        self.source_label.setWordWrap(True)
        grid = QGridLayout()
        self.from_canvas = QPushButton("Canvas")
        self.from_gallery = QPushButton("Gallery")
        self.from_file = QPushButton("File…")
        self.from_clipboard = QPushButton("Paste")
        for i, button in enumerate((self.from_canvas, self.from_gallery, self.from_file,
                                    self.from_clipboard)):
            grid.addWidget(button, 0, i)
        self.from_canvas.setToolTip("Upscale the image shown on the canvas")
        self.from_gallery.setToolTip("Upscale the selected gallery image")
        self.from_canvas.clicked.connect(lambda: self.source_wanted.emit("canvas"))
        self.from_gallery.clicked.connect(lambda: self.source_wanted.emit("gallery"))
        self.from_file.clicked.connect(self.open_file)
        self.from_clipboard.clicked.connect(self.paste)
        column = QVBoxLayout(self.source_box)
        column.addWidget(self.thumb)
        column.addWidget(self.source_label)
        column.addLayout(grid)

    def _build_settings(self) -> None:
        self.settings_box = QGroupBox("Upscaler")
        self.model = QComboBox()
        self.model.currentIndexChanged.connect(self._update_info)
        self.scale = QComboBox()
        self.scale.addItem("4×", 4)
        self.scale.addItem("2×", 2)
        self.scale.currentIndexChanged.connect(self._update_info)
        self.tile = QSpinBox()
        self.tile.setRange(0, 2048)
        self.tile.setSingleStep(32)
        self.tile.setSpecialValueText("Auto")
        self.tile.setSuffix(" px")
        self.overlap = QSpinBox()
        self.overlap.setRange(-1, 512)
        self.overlap.setSingleStep(8)
        self.overlap.setSpecialValueText("Auto")
        self.overlap.setValue(-1)
        self.overlap.setSuffix(" px")
        self.tile.valueChanged.connect(self._update_info)
        self.overlap.valueChanged.connect(self._update_info)
        self.model_note = QLabel("")
        self.model_note.setWordWrap(True)
        self.model_note.setStyleSheet("color: #e0a040;")
        self.info = QLabel("")
        form = QFormLayout(self.settings_box)
        self.add_model = QToolButton()
        self.add_model.setText("…")
        self.add_model.setToolTip("Add an upscaler: a model file (.pth/.safetensors, needs "
                                  "spandrel), or the model_index.json / config.json of an SD x4 "
                                  "upscaler or SR model folder")
        self.add_model.clicked.connect(self.browse_model)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model, 1)
        model_row.addWidget(self.add_model)
        form.addRow("Model", model_row)
        form.addRow("", self.model_note)
        form.addRow("Scale", self.scale)
        form.addRow("Tile", self.tile)
        form.addRow("Overlap", self.overlap)
        form.addRow("Output", self.info)
        self._build_diffusion()

    def _build_diffusion(self) -> None:
        self.diffusion_box = QGroupBox("Diffusion (SD x4 upscaler)")
        self.prompt = QLineEdit()
        self.prompt.setPlaceholderText("What the image shows (optional)")
        self.steps = QSpinBox()
        self.steps.setRange(1, 500)
        self.steps.setValue(20)
        self.noise_level = QSpinBox()
        self.noise_level.setRange(0, 350)
        self.noise_level.setValue(20)
        self.guidance = QDoubleSpinBox()
        self.guidance.setRange(0.0, 30.0)
        self.guidance.setValue(7.0)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.steps.valueChanged.connect(self._update_info)
        form = QFormLayout(self.diffusion_box)
        form.addRow("Prompt", self.prompt)
        form.addRow("Steps", self.steps)
        form.addRow("Noise level", self.noise_level)
        form.addRow("Guidance", self.guidance)
        form.addRow("Seed", self.seed)

    def _build_actions(self) -> None:
        self.upscale_button = QPushButton("Upscale")
        self.upscale_button.setObjectName("generateButton")
        self.upscale_button.clicked.connect(self.request_upscale)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.action_row = QHBoxLayout()
        self.action_row.addWidget(self.upscale_button, 2)
        self.action_row.addWidget(self.cancel_button, 1)
        self.status = QLabel("Choose a source image.")
        self.status.setWordWrap(True)
        self.compare_box = QGroupBox("Compare")
        self.compare = QCheckBox("Before / after (Lanczos vs result)")
        self.compare.setEnabled(False)
        self.split = QSlider(Qt.Orientation.Horizontal)
        self.split.setRange(0, 100)
        self.split.setValue(50)
        self.split.setEnabled(False)
        self.compare.toggled.connect(self.split.setEnabled)
        self.compare.toggled.connect(self.compare_changed)
        self.split.valueChanged.connect(self.compare_changed)
        column = QVBoxLayout(self.compare_box)
        column.addWidget(self.compare)
        column.addWidget(self.split)

    # ----- state --------------------------------------------------------------------------
    def refresh_models(self) -> None:
        current = self.model.currentText()
        self.model.blockSignals(True)
        self.model.clear()
        for choice in available_upscalers(self.extra_dirs):
            self.model.addItem(choice.label, choice)
            if not choice.available:
                index = self.model.count() - 1
                self.model.setItemData(index, choice.note, Qt.ItemDataRole.ToolTipRole)
        self.model.blockSignals(False)
        index = self.model.findText(current)
        if index < 0:  # first available one (Lanczos when the SR model is missing)
            index = next(i for i in range(self.model.count()) if self.choice_at(i).available)
        self.model.setCurrentIndex(index)
        self._update_info()

    def browse_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Add an upscaler model", "", _MODEL_FILTER)
        if path:
            self.add_model_path(Path(path))

    def add_model_path(self, path: Path) -> None:
        """Add a model file, or the folder of a chosen model_index.json/config.json."""
        target = path.parent if path.suffix.lower() == ".json" else path
        try:
            choice = resolve_upscaler(str(target))
        except (FileNotFoundError, ValueError) as exc:
            self.status.setText(str(exc))
            return
        self.model.addItem(choice.label, choice)
        self.model.setCurrentIndex(self.model.count() - 1)

    def choice_at(self, index: int) -> UpscalerChoice:
        return self.model.itemData(index)

    def choice(self) -> UpscalerChoice:
        return self.model.currentData()

    def set_source(self, image: Image.Image | None, name: str, infotext: str = "") -> None:
        """Upscale `image` next; `infotext` (its generation parameters) goes into the result."""
        if image is None:
            self.status.setText(f"No image in the {name}.")
            return
        self.source, self.source_name, self._encoded = image, name, None
        self.source_infotext = infotext
        pixmap = QPixmap.fromImage(qimage_from_pil(image.convert("RGBA")))
        self.thumb.setPixmap(pixmap.scaled(260, 120, Qt.AspectRatioMode.KeepAspectRatio,
                                           Qt.TransformationMode.SmoothTransformation))
        self.source_label.setText(f"{name} · {image.width}×{image.height} · {image.mode}")
        self.status.setText("Ready.")
        self._update_info()

    def open_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Image to upscale", "", _IMAGE_FILTER)
        if path:
            self.load_file(Path(path))

    def load_file(self, path: Path) -> None:
        try:
            image = open_source(path)
        except (OSError, Image.DecompressionBombError) as exc:  # unreadable or far too large
            self.status.setText(f"Cannot open {path.name}: {exc}")
            return
        parameters = image.info.get("parameters")
        self.set_source(image, path.name, parameters if isinstance(parameters, str) else "")

    def paste(self) -> None:
        image = QGuiApplication.clipboard().image()
        self.set_source(None if image.isNull() else pil_from_qimage(image), "clipboard")

    def _update_info(self) -> None:
        choice = self.choice() if self.model.count() else None
        if choice is None:
            return
        self.model_note.setText(choice.note)
        self.model_note.setVisible(bool(choice.note))
        self.diffusion_box.setVisible(choice.kind.diffusion)
        self.upscale_button.setEnabled(choice.available)
        if self.source is None:
            self.info.setText("—")
            return
        request = self.snapshot(encode=False)
        tiles = request.tile_count()
        tile, overlap = request.tiling()
        tiling = "" if choice.kind is UpscalerKind.LANCZOS else \
            f" · {tiles} tile{'s' * (tiles > 1)} of {tile}px, overlap {overlap}"
        self.info.setText(f"{request.output_width}×{request.output_height}{tiling}")

    def snapshot(self, encode: bool = True) -> UpscaleRequest:
        """The frozen request; `encode=False` skips the PNG bytes (for the size/tile info)."""
        if self.source is None:
            raise ValueError("choose a source image first (canvas, gallery, file or paste)")
        choice = self.choice()
        fields = dict(
            kind=choice.kind, model_path=choice.path, model_name=choice.name,
            scale=int(self.scale.currentData()), tile=self.tile.value(),
            overlap=self.overlap.value(), steps=self.steps.value(),
            noise_level=self.noise_level.value(), guidance=self.guidance.value(),
            prompt=self.prompt.text(), seed=self.seed.value(), source_name=self.source_name,
            source_infotext=self.source_infotext,
        )
        if not encode:
            return UpscaleRequest(_NOT_ENCODED, self.source.width, self.source.height, **fields)
        if self._encoded is None:  # encode a large source once, not on every click
            self._encoded = make_request(self.source).image
        return UpscaleRequest(self._encoded, self.source.width, self.source.height, **fields)

    def request_upscale(self) -> None:
        try:
            self.snapshot(encode=False).validate()  # refuse before encoding a huge source
            request = self.snapshot()
        except ValueError as exc:
            self.status.setText(str(exc))
            return
        self.upscale_requested.emit(request)

    def persisted_widgets(self) -> dict[str, QWidget]:
        """The settings that survive a restart (the source image does not)."""
        return {"model": self.model, "scale": self.scale, "tile": self.tile,
                "overlap": self.overlap, "prompt": self.prompt, "steps": self.steps,
                "noise_level": self.noise_level, "guidance": self.guidance, "seed": self.seed}

    def set_running(self, running: bool) -> None:
        self.upscale_button.setEnabled(not running and self.choice().available)
        self.cancel_button.setEnabled(running)


def describe_progress(request: UpscaleRequest, step: int) -> str:
    """'Tile 3/12' (plus ' · step 5/20' for diffusion models) for a worker step count."""
    per_tile, count = request.steps_per_tile(), request.tile_count()
    if request.kind is UpscalerKind.LANCZOS:
        return "Lanczos resize"
    tile = min(count, max(1, (step - 1) // per_tile + 1)) if step else 1
    text = f"Tile {tile}/{count}"
    if per_tile > 1:
        text += f" · step {step - (tile - 1) * per_tile}/{per_tile}"
    return text


__all__ = ["UpscalePanel", "describe_progress", "pil_from_qimage", "split_view", "QTimer"]
