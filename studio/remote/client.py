"""RemoteBackend: the Backend interface over a `studio serve` server's HTTP API.

It keeps its own queue and sends one job at a time (so cancelling or moving a waiting job is
local), streams the running job's NDJSON events on a client thread, turns them back into the
typed events, and saves every result locally through the app's saver before publishing it.
Standard library HTTP only: no torch, no Qt, no Ray on the desktop.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import socket
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.core.backend import (
    FAILURE_CAUSES,
    EngineStatus,
    EventHub,
    JobCancelled,
    JobEvent,
    JobFailed,
    JobFinished,
    JobMoved,
    JobPreview,
    JobProgress,
    JobQueued,
    JobResult,
    JobStarted,
    Listener,
    Request,
)
from studio.core.job_line import JobLine
from studio.core.records import ResultSaver
from studio.core.request_codec import encode_request
from studio.remote import protocol


class RemoteError(Exception):
    """The server could not be reached or refused; the message is for the user."""


@dataclass
class _Running:
    job_id: int
    request: Request
    server_job: str | None = None
    cancel_requested: bool = False
    conn: http.client.HTTPConnection | None = None
    results: list = field(default_factory=list)


class RemoteBackend:
    """Runs jobs on a remote engine, one at a time, in this app's queue order."""

    def __init__(self, url: str, token: str, saver: ResultSaver,
                 read_timeout: float = 30.0, connect_timeout: float = 5.0) -> None:
        parts = urllib.parse.urlsplit(url.strip().rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.url, self.token, self.saver = url.strip().rstrip("/"), token, saver
        self._parts = parts
        self.read_timeout, self.connect_timeout = read_timeout, connect_timeout
        self.hub = EventHub()
        self._line: JobLine[_Running] = JobLine()
        self._thread = threading.Thread(target=self._serve, name="studio-remote", daemon=True)

    # --- the Backend interface -------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        return self.hub.subscribe(listener)

    def submit(self, request: Request) -> int:
        job_id = self._line.new_id()
        self.hub.publish(JobQueued(job_id, request))  # before the client thread can start it
        self._line.put(job_id, request)
        return job_id

    def cancel(self, job_id: int) -> None:
        removed, running = self._line.withdraw(job_id)
        if removed:
            self.hub.publish(JobCancelled(job_id))
        elif running is not None:
            self._cancel_running(running)

    def cancel_all(self) -> None:
        waiting, running = self._line.clear()
        for job_id in waiting:
            self.hub.publish(JobCancelled(job_id))
        if running is not None:
            self._cancel_running(running)

    def move(self, job_id: int, position: int) -> bool:
        order = self._line.move(job_id, position)
        if order is None:
            return False
        self.hub.publish(JobMoved(job_id, order.index(job_id), order))
        return True

    def stop_and_keep(self) -> None:
        self.hub.publish(EngineStatus(0, "Stop and keep is not available on a remote engine"))

    def set_paused(self, paused: bool) -> None:
        if paused:
            self.hub.publish(EngineStatus(0, "Pausing is not available on a remote engine"))

    @property
    def busy(self) -> bool:
        return self._line.busy

    def shutdown(self, timeout: float = 10.0) -> bool:
        self.cancel_all()
        return self._line.stop_and_join(self._thread, timeout)

    # --- plain requests --------------------------------------------------------------------

    def models(self) -> list[str]:
        """The server's model names; RemoteError says why not."""
        data = self._get_json("/models")
        return [str(m["name"]) for m in data.get("models", []) if isinstance(m, dict)]

    def health(self) -> dict[str, Any]:
        return self._get_json("/health")

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        cls = (http.client.HTTPSConnection if self._parts.scheme == "https"
               else http.client.HTTPConnection)
        return cls(self._parts.hostname, self._parts.port, timeout=timeout)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}

    def _call(self, method: str, path: str, body: bytes | None = None,
              timeout: float | None = None) -> tuple[int, bytes]:
        conn = self._connection(timeout or self.connect_timeout)
        try:
            conn.request(method, path, body, self._headers())
            response = conn.getresponse()
            return response.status, response.read(protocol.MAX_LINE_BYTES)
        except (OSError, http.client.HTTPException) as exc:
            raise RemoteError(self._lost(exc)) from None
        finally:
            conn.close()

    def _get_json(self, path: str) -> dict[str, Any]:
        status, raw = self._call("GET", path)
        if status != 200:
            raise RemoteError(self._refused(status, raw))
        try:
            data = json.loads(raw)
        except ValueError:
            raise RemoteError(f"{self.url} did not answer like a Studio engine") from None
        return data if isinstance(data, dict) else {}

    # --- messages --------------------------------------------------------------------------

    def _refused(self, status: int, raw: bytes) -> str:
        if status == 401:
            return (f"The remote engine at {self.url} refused the token (401). "
                    "Check Settings → Engine.")
        try:
            detail = json.loads(raw).get("detail", "")
        except (ValueError, AttributeError):
            detail = raw[:200].decode("utf-8", "replace")
        return f"The remote engine refused the job ({status}): {detail}"

    def _lost(self, exc: BaseException) -> str:
        if isinstance(exc, ConnectionRefusedError):
            return (f"Could not reach the remote engine at {self.url}: connection refused. "
                    "Is `studio serve` running there?")
        if isinstance(exc, socket.timeout | TimeoutError):
            return (f"The remote engine at {self.url} stopped answering "
                    f"(nothing for {self.read_timeout:.0f} s). The job did not finish.")
        return (f"Lost the connection to the remote engine at {self.url} "
                f"({exc or type(exc).__name__}). The job did not finish.")

    # --- the client thread -----------------------------------------------------------------

    def _serve(self) -> None:
        while (running := self._line.take(_Running)) is not None:  # type: ignore[arg-type]
            try:
                self._run(running)
            finally:
                self._line.done()

    def _run(self, running: _Running) -> None:
        try:
            final = self._stream(running)
        except RemoteError as exc:
            final = JobFailed(running.job_id, str(exc))
        except (OSError, http.client.HTTPException, ValueError, KeyError) as exc:
            final = (JobCancelled(running.job_id) if running.cancel_requested
                     else JobFailed(running.job_id, self._lost(exc)))
        finally:
            if running.conn is not None:
                running.conn.close()
        self.hub.publish(final)

    def _stream(self, running: _Running) -> JobEvent:
        body = json.dumps({"request": encode_request(running.request)}).encode("utf-8")
        conn = running.conn = self._connection(self.read_timeout)
        conn.request("POST", "/jobs", body, self._headers())
        response = conn.getresponse()
        if response.status != 200:
            raise RemoteError(self._refused(response.status, response.read(65536)))
        while True:
            line = response.readline(protocol.MAX_LINE_BYTES)
            if not line:
                raise ConnectionError("the server closed the stream")
            final = self._handle(running, protocol.loads(line))
            if final is not None:
                return final

    def _handle(self, running: _Running, data: dict[str, Any]) -> JobEvent | None:
        """Publish one streamed event; returns the final event instead of publishing it."""
        job, kind = running.job_id, data["event"]
        if kind == "accepted":
            running.server_job = str(data["job"])
            if running.cancel_requested:
                self._send_cancel(running)
        elif kind == "started":
            self.hub.publish(JobStarted(job, running.request))
        elif kind == "progress":
            self.hub.publish(JobProgress(job, int(data["step"]), int(data["total"]),
                                         data.get("eta_s"), int(data.get("image", 0)),
                                         int(data.get("images", 1))))
        elif kind == "preview":
            self.hub.publish(JobPreview(job, int(data["step"]), int(data["total"]),
                                        protocol.decode_preview(data)))
        elif kind == "result":
            self._save_result(running, data)
        elif kind == "status":
            self.hub.publish(EngineStatus(0, str(data.get("text", ""))))
        elif kind == "finished":
            return JobFinished(job, tuple(running.results))
        elif kind == "failed":
            cause = data.get("cause", "")
            return JobFailed(job, str(data.get("message", "the remote job failed")),
                             cause if isinstance(cause, str) and cause in FAILURE_CAUSES
                             else "")
        elif kind == "cancelled":
            return JobCancelled(job)
        return None

    def _save_result(self, running: _Running, data: dict[str, Any]) -> None:
        """Save the image here (PNG with parameters, History) before anyone sees it."""
        image, infotext = protocol.decode_result(data)
        steps = data.get("steps_done")
        result = self.saver.save_with_infotext(
            running.job_id, int(data.get("index", 0)), image, running.request, infotext,
            _safe_stem(data.get("stem")), int(steps) if steps is not None else None)
        upscaled_by = int(data.get("upscaled_by", 1))
        if upscaled_by > 1:
            result = dataclasses.replace(result, upscaled_by=upscaled_by)
        running.results.append(result)
        self.hub.publish(JobResult(running.job_id, result))

    # --- cancelling the running job --------------------------------------------------------

    def _cancel_running(self, running: _Running) -> None:
        running.cancel_requested = True
        if running.server_job is not None:  # never block the caller (the GUI thread)
            threading.Thread(target=self._send_cancel, args=(running,), daemon=True).start()

    def _send_cancel(self, running: _Running) -> None:
        try:
            status, _ = self._call("POST", f"/jobs/{running.server_job}/cancel")
        except RemoteError:
            status = 0
        if status != 200:
            _drop(running.conn)  # the reader ends the job as cancelled


def _safe_stem(stem: object) -> str:
    """The server's file-name suffix, reduced to characters that cannot leave the folder."""
    text = "".join(c for c in str(stem or "") if c.isalnum() or c in "-_")[:64]
    return text or "image"


def _drop(conn: http.client.HTTPConnection | None) -> None:
    sock = getattr(conn, "sock", None)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class RemoteModels:
    """The model picker's registry when the engine is remote: the server's models by name."""

    def __init__(self, names: list[str], url: str) -> None:
        from studio.core.models import ModelEntry

        self.url = url
        self._entries = [ModelEntry(name, Path(name), "remote") for name in names]
        self.extra_dirs: list[Path] = []
        self.skipped: dict[Path, str] = {}

    @property
    def searched(self) -> list[Path]:
        return []

    def entries(self) -> list:
        return list(self._entries)

    def default(self) -> object | None:
        return self._entries[0] if self._entries else None

    def describe_search(self) -> str:
        return f"The remote engine at {self.url} offers no models."
