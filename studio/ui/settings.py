"""Persisted user settings (QSettings): model folders, panel values, geometry, outputs folder."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from studio.ui.prompt_panel import PanelValues
from studio.ui.window_frame import GEOMETRY_KEY, saved_geometry


class StudioSettings:
    """Typed access to QSettings; unreadable values fall back to defaults, never raise."""

    def __init__(self, settings: QSettings) -> None:
        self.qsettings = settings

    def model_dirs(self) -> list[Path]:
        raw = self.qsettings.value("models/extra_dirs", "[]")
        try:
            return [Path(p) for p in json.loads(str(raw))]
        except (ValueError, TypeError):
            return []

    def set_model_dirs(self, dirs: list[Path]) -> None:
        self.qsettings.setValue("models/extra_dirs", json.dumps([str(p) for p in dirs]))

    def last_model(self) -> str:
        return str(self.qsettings.value("models/last", ""))

    def set_last_model(self, name: str) -> None:
        self.qsettings.setValue("models/last", name)

    def panel_values(self) -> PanelValues | None:
        raw = self.qsettings.value("panel/values", "")
        try:
            return PanelValues(**json.loads(str(raw)))
        except (ValueError, TypeError):
            return None

    def set_panel_values(self, values: PanelValues) -> None:
        self.qsettings.setValue("panel/values", json.dumps(asdict(values)))

    def section(self, name: str) -> dict[str, object]:
        """A panel's saved widget values (empty when none or unreadable)."""
        raw = self.qsettings.value(f"panels/{name}", "")
        try:
            values = json.loads(str(raw))
        except ValueError:
            return {}
        return values if isinstance(values, dict) else {}

    def set_section(self, name: str, values: dict[str, object]) -> None:
        self.qsettings.setValue(f"panels/{name}", json.dumps(values))

    def outputs_root(self) -> Path | None:
        raw = str(self.qsettings.value("outputs/root", "") or "")
        return Path(raw) if raw else None

    def set_outputs_root(self, root: Path) -> None:
        self.qsettings.setValue("outputs/root", str(root))

    def geometry(self) -> QByteArray | None:
        return saved_geometry(self.qsettings)

    def set_geometry(self, geometry: QByteArray) -> None:
        self.qsettings.setValue(GEOMETRY_KEY, geometry)

    def reset(self) -> None:
        self.qsettings.clear()

    def sync(self) -> None:
        self.qsettings.sync()
