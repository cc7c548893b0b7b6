"""The prompt panel: every generation setting, snapshotted into a frozen request."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QToolButton,
    QWidget,
)

from studio.core.prompts import expand_prompt, load_expansions
from studio.core.requests import MAX_HIRES_SCALE, SCHEDULER_NAMES, GenerateRequest
from studio.ui.lora_picker import LoraPicker
from studio.ui.panel_layout import scrolled_column, set_text_lines
from studio.ui.prompt_edit import PromptEdit
from studio.ui.size_advice import HIRES_FACTORS, SizeAdvice, SizeWarning, advise_size

RANDOM_SEED = -1
HIRES_CHOICES = (1.0, *HIRES_FACTORS)
_MAX_SEED = 2**31 - 1


@dataclass(frozen=True)
class PanelValues:
    """The panel's settings as plain data (for settings persistence and tests)."""

    prompt: str
    negative_prompt: str
    steps: int
    guidance: float
    seed: int
    width: int
    height: int
    scheduler: str
    batch_count: int
    upscale_by: int = 1
    hires_scale: float = 1.0  # Hires. fix: 1 = off
    hires_strength: float = 0.5
    hires_steps: int = 0  # 0 = same as steps


def _spin(low: int, high: int, value: int, step: int = 1) -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setValue(value)
    return box


class PromptPanel(QWidget):
    """Prompt, negative prompt and sampling settings; emits `generate_requested`."""

    generate_requested = Signal()
    cancel_requested = Signal()
    keep_requested = Signal()
    changed = Signal()  # any setting or the prompt changed

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.prompt = PromptEdit()
        self.prompt.setPlaceholderText("Describe the image… (leave empty with guidance 1 for "
                                       "unconditioned generation)")
        self.lora_picker = LoraPicker(self.prompt)
        self.negative = QPlainTextEdit()
        self.negative.setPlaceholderText("What to avoid (negative prompt)")
        set_text_lines(self.prompt, 3)
        set_text_lines(self.negative, 3)
        self.steps = _spin(1, 150, 25)
        self.guidance = QDoubleSpinBox()
        self.guidance.setRange(0.0, 30.0)
        self.guidance.setSingleStep(0.5)
        self.guidance.setValue(7.0)
        self.seed = _spin(RANDOM_SEED, _MAX_SEED, RANDOM_SEED)
        self.seed.setSpecialValueText("Random")
        self.width_box = _spin(64, 2048, 512, 8)
        self.height_box = _spin(64, 2048, 512, 8)
        self.scheduler = QComboBox()
        self.scheduler.addItems(SCHEDULER_NAMES)
        self.batch = _spin(1, 64, 1)
        self.upscale = QComboBox()
        for label, factor in (("Off", 1), ("2× (built-in SR)", 2), ("4× (built-in SR)", 4)):
            self.upscale.addItem(label, factor)
        self.upscale.setToolTip("Cascade: also save each image upscaled by the built-in "
                                "super-resolution model (the original is kept)")
        self._make_hires_widgets()
        self.last_seed: int | None = None
        self.native_size: int | None = None
        self.cascade_suits_model = False
        self.size_warning = SizeWarning()
        self.size_warning.apply_requested.connect(self.apply_size_advice)
        self._build_layout()
        self._connect_changes()

    def _connect_changes(self) -> None:
        for edit in (self.prompt, self.negative):
            edit.textChanged.connect(self.changed)
        for box in (self.steps, self.guidance, self.seed, self.width_box, self.height_box,
                    self.batch, self.hires_strength, self.hires_steps):
            box.valueChanged.connect(self.changed)
        for combo in (self.scheduler, self.upscale, self.hires):
            combo.currentIndexChanged.connect(self.changed)
        for box in (self.width_box, self.height_box):
            box.valueChanged.connect(self._update_size_warning)

    def _build_layout(self) -> None:
        layout, outer = scrolled_column(self)
        layout.addWidget(_row(_heading("Prompt"), self.lora_picker))
        layout.addWidget(self.prompt, 2)
        layout.addWidget(_heading("Negative prompt"))
        layout.addWidget(self.negative, 1)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Sampler", self.scheduler)
        form.addRow("Steps", self.steps)
        form.addRow("Guidance (CFG)", self.guidance)
        form.addRow("Seed", self._seed_row())
        form.addRow("Size", self._size_row())
        form.addRow(self.size_warning)
        form.addRow("Batch count", self.batch)
        form.addRow("Hires. fix", _row(self.hires, QLabel("Strength"), self.hires_strength,
                                       QLabel("Steps"), self.hires_steps))
        form.addRow("Upscale", self.upscale)
        layout.addLayout(form)
        buttons = self._button_row()
        buttons.setContentsMargins(9, 0, 9, 0)
        outer.addLayout(buttons)

    def _make_hires_widgets(self) -> None:
        self.hires = QComboBox()
        for factor in HIRES_CHOICES:
            self.hires.addItem(f"{factor:g}×" if factor > 1 else "Off", factor)
        self.hires.setToolTip("Hires. fix: generate at the size above, enlarge by this factor, "
                              "then redraw the details at the larger size (a second, img2img "
                              "pass with the same seed and prompt)")
        self.hires_strength = QDoubleSpinBox()
        self.hires_strength.setRange(0.05, 1.0)
        self.hires_strength.setSingleStep(0.05)
        self.hires_strength.setValue(0.5)
        self.hires_strength.setToolTip("Denoising strength of the second pass: low keeps the "
                                       "first image, high redraws more")
        self.hires_steps = _spin(0, 150, 0)
        self.hires_steps.setSpecialValueText("Same")
        self.hires_steps.setToolTip("Steps of the second pass (× strength are run); "
                                    "Same = the Steps above")
        self.hires.currentIndexChanged.connect(self._enable_hires_options)
        self._enable_hires_options()

    def _enable_hires_options(self) -> None:
        on = float(self.hires.currentData()) > 1
        self.hires_strength.setEnabled(on)
        self.hires_steps.setEnabled(on)

    def _select_hires(self, scale: float) -> None:
        """Choose `scale` in the Hires. fix combo, adding it when it is not one of the choices
        (an A1111 image's own factor)."""
        index = self.hires.findData(scale)
        if index < 0 and 1 < scale <= MAX_HIRES_SCALE:
            self.hires.addItem(f"{scale:g}×", scale)
            index = self.hires.count() - 1
        self.hires.setCurrentIndex(max(index, 0))

    def _seed_row(self) -> QWidget:
        self.random_button = QToolButton(text="Random")
        self.random_button.setToolTip("A new random seed for every generation (the CLI's "
                                      "--seed -1)")
        self.random_button.clicked.connect(lambda: self.seed.setValue(RANDOM_SEED))
        self.random_button.setEnabled(False)
        self.seed.valueChanged.connect(
            lambda value: self.random_button.setEnabled(value != RANDOM_SEED))
        reuse = QToolButton(text="♻")
        reuse.setToolTip("Reuse the last seed")
        reuse.clicked.connect(self.reuse_last_seed)
        return _row(self.seed, self.random_button, reuse)

    def _size_row(self) -> QWidget:
        swap = QToolButton(text="⇄")
        swap.setToolTip("Swap width and height")
        swap.clicked.connect(self._swap_size)
        return _row(self.width_box, QLabel("×"), self.height_box, swap)

    def _button_row(self) -> QHBoxLayout:
        self.generate_button = QPushButton("Generate")
        self.generate_button.setObjectName("generateButton")
        self.generate_button.setToolTip("Generate (Ctrl+Enter)")
        self.generate_button.setMinimumHeight(36)
        self.generate_button.clicked.connect(self.generate_requested)
        self.keep_button = QPushButton("Stop && keep")
        self.keep_button.setToolTip("Stop now and keep the current denoised estimate")
        self.keep_button.clicked.connect(self.keep_requested)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Cancel the running and queued jobs (Esc)")
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.set_running(False)
        row = QHBoxLayout()
        row.addWidget(self.generate_button, 2)
        row.addWidget(self.keep_button, 1)
        row.addWidget(self.cancel_button, 1)
        return row

    def set_running(self, running: bool) -> None:
        self.cancel_button.setEnabled(running)
        self.keep_button.setEnabled(running)

    def set_native_size(self, size: int) -> None:
        self.width_box.setValue(size)
        self.height_box.setValue(size)

    def set_model_size(self, native: int | None, cascade: bool) -> None:
        """The model's native side (None: unknown) and whether the built-in SR suits it."""
        self.native_size, self.cascade_suits_model = native, cascade
        self._update_size_warning()

    def _update_size_warning(self) -> None:
        self.size_warning.show_advice(advise_size(
            self.width_box.value(), self.height_box.value(), self.native_size,
            self.cascade_suits_model))

    def apply_size_advice(self, advice: SizeAdvice) -> None:
        """Use the advised size (and the upscale cascade or Hires. fix when it offers one)."""
        self.width_box.setValue(advice.width)
        self.height_box.setValue(advice.height)
        if advice.upscale_by > 1 or advice.hires_scale > 1:  # one way to enlarge, not both
            self.upscale.setCurrentIndex(max(0, self.upscale.findData(advice.upscale_by)))
            self._select_hires(advice.hires_scale)

    def apply_model_defaults(self, defaults: dict[str, object]) -> None:
        """Use a model's recommended steps, guidance and sampler (from its studio.json)."""
        if isinstance(defaults.get("steps"), int):
            self.steps.setValue(int(defaults["steps"]))  # type: ignore[arg-type]
        if isinstance(defaults.get("guidance"), int | float):
            self.guidance.setValue(float(defaults["guidance"]))  # type: ignore[arg-type]
        index = self.scheduler.findText(str(defaults.get("scheduler", "")))
        if index >= 0:
            self.scheduler.setCurrentIndex(index)

    def reuse_last_seed(self) -> None:
        if self.last_seed is not None:
            self.seed.setValue(min(self.last_seed, _MAX_SEED))

    def _swap_size(self) -> None:
        w, h = self.width_box.value(), self.height_box.value()
        self.width_box.setValue(h)
        self.height_box.setValue(w)

    def values(self) -> PanelValues:
        return PanelValues(
            prompt=self.prompt.toPlainText().strip(),
            negative_prompt=self.negative.toPlainText().strip(),
            steps=self.steps.value(), guidance=round(self.guidance.value(), 2),
            seed=self.seed.value(), width=self.width_box.value(),
            height=self.height_box.value(), scheduler=self.scheduler.currentText(),
            batch_count=self.batch.value(), upscale_by=int(self.upscale.currentData()),
            hires_scale=float(self.hires.currentData()),
            hires_strength=round(self.hires_strength.value(), 2),
            hires_steps=self.hires_steps.value(),
        )

    def apply_values(self, values: PanelValues) -> None:
        self.prompt.setPlainText(values.prompt)
        self.negative.setPlainText(values.negative_prompt)
        self.steps.setValue(values.steps)
        self.guidance.setValue(values.guidance)
        self.seed.setValue(values.seed)
        self.width_box.setValue(values.width)
        self.height_box.setValue(values.height)
        index = self.scheduler.findText(values.scheduler)
        if index >= 0:
            self.scheduler.setCurrentIndex(index)
        self.batch.setValue(values.batch_count)
        index = self.upscale.findData(values.upscale_by)
        self.upscale.setCurrentIndex(max(index, 0))
        self._select_hires(values.hires_scale)
        self.hires_strength.setValue(values.hires_strength)
        self.hires_steps.setValue(values.hires_steps)

    def snapshot(self, model_path: str, model_name: str) -> GenerateRequest:
        """A frozen request from the current values; a random seed is drawn here."""
        v = self.values()
        seed = random.randrange(_MAX_SEED) if v.seed == RANDOM_SEED else v.seed
        self.last_seed = seed
        self.lora_picker.model_path = Path(model_path)  # its loras/ folders, next time
        prompt = expand_prompt(v.prompt, load_expansions(Path(model_path)))
        return GenerateRequest(
            model_path=model_path, model_name=model_name, prompt=prompt,
            negative_prompt=v.negative_prompt, steps=v.steps, guidance=v.guidance, seed=seed,
            width=v.width, height=v.height, scheduler=v.scheduler, batch_count=v.batch_count,
            upscale_by=v.upscale_by, hires_scale=v.hires_scale, hires_strength=v.hires_strength,
            hires_steps=v.hires_steps,
        )


def _heading(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("heading")
    return label


def _row(*widgets: QWidget) -> QWidget:
    holder = QWidget()
    layout = QHBoxLayout(holder)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(widget, 1 if isinstance(widget, QSpinBox) else 0)
    layout.setAlignment(Qt.AlignmentFlag.AlignLeft)
    return holder
