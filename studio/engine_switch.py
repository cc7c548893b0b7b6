"""Switching the app between its local engine and a remote one (composed in studio.app)."""

from __future__ import annotations

from typing import Any

from studio.core.records import ResultSaver


class EngineSwitch:
    """Swaps the backend behind the window: signals, job runner, queue dock, model picker.

    Called with an `EngineChoice`; returns None when switched, else a message for the user.
    """

    def __init__(self, window: Any, signals: Any, saver: ResultSaver, local: Any) -> None:
        self.window, self.signals, self.saver = window, signals, saver
        self.local = local
        self.local_registry = window.model_picker.registry
        self.current = local

    def __call__(self, choice: Any) -> str | None:
        if self.current.busy:
            return "Jobs are still queued or running: wait for them or cancel them first."
        if not getattr(choice, "remote", False):
            self._swap(self.local, self.local_registry)
            return None
        try:
            from studio.remote.client import RemoteBackend, RemoteError, RemoteModels
        except ImportError as exc:  # pragma: no cover - the client needs only the stdlib
            return f"The remote engine is unavailable here: {exc}"
        try:
            backend = RemoteBackend(choice.url, choice.token, self.saver)
            names = backend.models()  # reachable, and the token is right
        except (ValueError, RemoteError) as exc:
            return str(exc)
        backend.start()
        self._swap(backend, RemoteModels(names, backend.url))
        return None

    def _swap(self, backend: Any, registry: Any) -> None:
        old, window = self.current, self.window
        self.signals.attach(backend)
        window.runner.backend = backend
        window.queue_panel.backend = backend
        window.model_picker.registry = registry
        window.refresh_models()
        self.current = backend
        where = getattr(backend, "url", None)
        window.progress_label.setText(f"Engine: remote at {where}" if where else "Engine: local")
        if old is not self.local and old is not backend:
            old.shutdown(5)

    def restore(self, choice: Any) -> str | None:
        """At start-up: reconnect to the remembered remote engine (stay local if it fails)."""
        if not getattr(choice, "remote", False):
            return None
        error = self(choice)
        return None if error is None else f"Using the local engine: {error}"

    def close(self) -> None:
        if self.current is not self.local:
            self.current.shutdown(5)
