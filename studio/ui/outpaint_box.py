"""The Edit tab's outpaint controls: pixels to add per side, the pre-fill, and Extend."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
)

from studio.core.outpaint import FILL_MODES, MAX_SIDE_EXTEND, Sides

_FILL_TIPS = {"edge": "stretch the border and blur it", "mirror": "mirror the image",
              "noise": "blurred border plus noise",
              "model": "an inpainting model file (LaMa, MAT) paints the new area first "
                       "(needs the optional spandrel package)"}
MODEL_FILES = "Model files (*.safetensors *.pth *.pt *.ckpt);;All files (*)"


class OutpaintBox(QGroupBox):
    """Widgets only; the OutpaintController turns Extend into an outpaint job."""

    extend_requested = Signal()

    def __init__(self) -> None:
        super().__init__("Extend (outpaint)")
        grid = QGridLayout(self)
        self.side_boxes: dict[str, QSpinBox] = {}
        for index, side in enumerate(("left", "right", "top", "bottom")):
            box = QSpinBox()
            box.setRange(0, MAX_SIDE_EXTEND)
            box.setSingleStep(64)
            box.setSuffix(" px")
            box.setToolTip(f"Pixels to add on the {side}")
            self.side_boxes[side] = box
            grid.addWidget(QLabel(side.capitalize()), index // 2, (index % 2) * 2)
            grid.addWidget(box, index // 2, (index % 2) * 2 + 1)
        self.fill = QComboBox()
        for mode in FILL_MODES:
            self.fill.addItem(mode.capitalize(), mode)
            self.fill.setItemData(self.fill.count() - 1, _FILL_TIPS[mode],
                                  role=3)  # Qt.ToolTipRole
        self.extend_button = QPushButton("Extend")
        self.extend_button.setToolTip("Grow the canvas and let the model fill the new area "
                                      "(prompt, strength and work size from above)")
        self.extend_button.clicked.connect(self.extend_requested)
        grid.addWidget(QLabel("Fill"), 2, 0)
        grid.addWidget(self.fill, 2, 1)
        grid.addWidget(self.extend_button, 2, 2, 1, 2)
        self.fill_model = QLineEdit()
        self.fill_model.setPlaceholderText("Inpainting model file (LaMa, MAT)")
        self.fill_model.setToolTip(_FILL_TIPS["model"])
        self.browse_button = QPushButton("Browse…")
        self.browse_button.clicked.connect(self.choose_fill_model)
        grid.addWidget(self.fill_model, 3, 0, 1, 3)
        grid.addWidget(self.browse_button, 3, 3)
        self.fill.currentIndexChanged.connect(lambda _: self._show_model_row())
        self._show_model_row()

    def _show_model_row(self) -> None:
        model = self.fill_mode() == "model"
        self.fill_model.setVisible(model)
        self.browse_button.setVisible(model)

    def choose_fill_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Inpainting model file",
                                              self.fill_model.text(), MODEL_FILES)
        if path:
            self.fill_model.setText(path)

    def sides(self) -> Sides:
        return Sides(**{side: box.value() for side, box in self.side_boxes.items()})

    def fill_mode(self) -> str:
        return str(self.fill.currentData())

    def fill_model_path(self) -> str:
        """The inpainting model file for the model fill ("" for the other fills)."""
        return self.fill_model.text().strip() if self.fill_mode() == "model" else ""
