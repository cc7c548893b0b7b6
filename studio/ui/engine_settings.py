"""Settings → Engine: run jobs here (Local) or on a `studio serve` server (Remote)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from studio.ui.settings import StudioSettings

DEFAULT_URL = "http://127.0.0.1:8765"
PLAIN_TEXT_NOTE = ("The token is stored in plain text in Studio's settings file. "
                   "Start a server with `studio serve`; it prints its URL and token.")


@dataclass(frozen=True)
class EngineChoice:
    """Which engine runs jobs: "local", or "remote" at `url` with `token`."""

    mode: str = "local"
    url: str = DEFAULT_URL
    token: str = ""

    @property
    def remote(self) -> bool:
        return self.mode == "remote"


def load_choice(settings: StudioSettings | None) -> EngineChoice:
    values = settings.section("engine") if settings is not None else {}
    mode = "remote" if values.get("mode") == "remote" else "local"
    return EngineChoice(mode, str(values.get("url") or DEFAULT_URL), str(values.get("token") or ""))


def save_choice(settings: StudioSettings | None, choice: EngineChoice) -> None:
    if settings is not None:
        settings.set_section("engine", {"mode": choice.mode, "url": choice.url,
                                        "token": choice.token})


class EngineDialog(QDialog):
    """Local or Remote (URL and token); `choice()` is what the user set."""

    def __init__(self, choice: EngineChoice, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Engine")
        self.local = QRadioButton("Local: run jobs on this computer")
        self.remote = QRadioButton("Remote: run jobs on a Studio server (studio serve)")
        self.url = QLineEdit(choice.url)
        self.token = QLineEdit(choice.token)
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.error = QLabel("")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #ff8a80;")
        note = QLabel(PLAIN_TEXT_NOTE)
        note.setWordWrap(True)
        (self.remote if choice.remote else self.local).setChecked(True)
        form = QFormLayout()
        form.addRow("Server URL", self.url)
        form.addRow("Token", self.token)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for widget in (self.local, self.remote):
            layout.addWidget(widget)
        layout.addLayout(form)
        for widget in (note, self.error, buttons):
            layout.addWidget(widget)
        self.remote.toggled.connect(self._enable)
        self._enable()

    def _enable(self) -> None:
        for widget in (self.url, self.token):
            widget.setEnabled(self.remote.isChecked())

    def choice(self) -> EngineChoice:
        return EngineChoice("remote" if self.remote.isChecked() else "local",
                            self.url.text().strip() or DEFAULT_URL, self.token.text().strip())


def choose_engine(window: QWidget, settings: StudioSettings | None,
                  switch: Callable[[EngineChoice], str | None] | None) -> None:
    """Show the dialog until the choice works (or is cancelled), then remember it."""
    dialog = EngineDialog(load_choice(settings), window)
    while dialog.exec() == QDialog.DialogCode.Accepted:
        choice = dialog.choice()
        error = switch(choice) if switch is not None else "No engine switch in this window"
        if error is None:
            save_choice(settings, choice)
            return
        dialog.error.setText(error)
