"""The HTTP API in front of the engine replicas (FastAPI; Ray-free, so TestClient can drive it).

Every route needs `Authorization: Bearer <token>`. `POST /jobs` takes `{"request": …}` (the
request as `request_codec` JSON, input images inside it) and answers with the job's events as
NDJSON; `POST /jobs/{job}/cancel` cancels it; `GET /models` lists the models by name;
`GET /health` says the server is up. Model paths are the server's: a request names a model
(`model_name`, or the last part of `model_path`) and the server substitutes its own path; an
upscale job uses the server's built-in SR model or Lanczos.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hmac
import io
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import StreamingResponse
from PIL import Image

from studio.core.request_codec import decode_request, encode_request
from studio.core.requests import GenerateRequest
from studio.core.upscale import UpscaleRequest, UpscalerKind
from studio.core.upscaler_catalog import EMBEDDED_SR_DIR
from studio.remote import protocol

UPSCALERS = ("", "lanczos")  # a client may not name an upscaler file on the server
REMOTE_UPSCALERS = (UpscalerKind.SR, UpscalerKind.LANCZOS)  # upscale jobs: no client files


@dataclass(frozen=True)
class Limits:
    """What one request may ask for; more is refused with 413."""

    max_request_bytes: int = 64 * 1024 * 1024
    max_pixels: int = 2048 * 2048  # output size, and each input image
    max_batch: int = 16


@dataclass(frozen=True)
class ApiConfig:
    """The server's token, its models (name → path on the server) and its limits."""

    token: str
    models: dict[str, str] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)


class Gateway(Protocol):
    """Where jobs run: Ray Serve replicas, or a fake in tests."""

    def stream(self, job: str, model: str, request: dict[str, Any]
               ) -> AsyncIterator[dict[str, Any]]: ...

    async def cancel(self, job: str) -> bool: ...


def build_api(gateway: Gateway, config: ApiConfig) -> FastAPI:
    """The FastAPI app: auth on every route, then models, health, jobs and cancel."""

    def authorize(request: Request) -> None:
        header = request.headers.get("authorization", "")
        given = header[7:] if header.lower().startswith("bearer ") else ""
        if not given or not hmac.compare_digest(given.encode(), config.token.encode()):
            raise HTTPException(401, "a valid bearer token is required",
                                headers={"WWW-Authenticate": "Bearer"})

    app = FastAPI(title="Studio engine", dependencies=[Depends(authorize)],
                  docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"ok": True, "protocol": protocol.PROTOCOL_VERSION,
                "jobs_started": getattr(gateway, "started", None)}

    @app.get("/models")
    async def models() -> dict[str, Any]:
        return {"models": [{"name": name} for name in config.models]}

    @app.post("/jobs")
    async def submit(request: Request) -> StreamingResponse:
        body = await _read_body(request, config.limits.max_request_bytes)
        encoded, model = check_request(body, config)
        job = uuid.uuid4().hex
        return StreamingResponse(_job_stream(gateway, job, model, encoded),
                                 media_type=protocol.NDJSON)

    @app.post("/jobs/{job}/cancel")
    async def cancel(job: str) -> dict[str, Any]:
        return {"cancelled": await gateway.cancel(job)}

    return app


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise HTTPException(413, f"the request is larger than {limit // 2**20} MiB")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"the request is larger than {limit // 2**20} MiB")
        chunks.append(chunk)
    return b"".join(chunks)


def check_request(body: bytes, config: ApiConfig) -> tuple[dict[str, Any], str]:
    """The request rewritten onto the server's paths, and the model to route it by; else
    400/413. Generation jobs name one of the server's models; upscale jobs use the
    server's built-in SR model or Lanczos."""
    try:
        data = json.loads(body)
        request = decode_request(data.get("request") if isinstance(data, dict) else None)
    except (ValueError, TypeError) as exc:
        raise HTTPException(400, f"bad request: {exc}") from None
    if isinstance(request, GenerateRequest):
        request, name = _check_generate(request, config)
    elif isinstance(request, UpscaleRequest):
        request, name = _check_upscale(request, config.limits)
    else:
        raise HTTPException(400, "this server runs image generation (txt2img, img2img, "
                                 "inpaint) and upscale jobs only")
    try:
        request.validate()
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    return encode_request(request), name


def _check_generate(request: GenerateRequest, config: ApiConfig
                    ) -> tuple[GenerateRequest, str]:
    _check_size(request, config.limits)
    name = request.model_name or request.model_path.replace("\\", "/").rsplit("/", 1)[-1]
    if name not in config.models:
        raise HTTPException(400, f"unknown model {name!r}; this server has: "
                                 f"{', '.join(config.models) or 'none'}")
    if request.upscaler not in UPSCALERS:
        raise HTTPException(400, "upscaler must be the built-in one or 'lanczos'")
    if request.outpaint_fill_model:  # a file path on the server: never the client's to name
        raise HTTPException(400, "the model fill (an inpainting model file) runs on a local "
                                 "engine only; choose edge, mirror or noise")
    return dataclasses.replace(request, model_path=config.models[name], model_name=name), name


def _check_upscale(request: UpscaleRequest, limits: Limits) -> tuple[UpscaleRequest, str]:
    """The built-in SR model (the server's copy) or Lanczos; the output within the limits."""
    if request.kind not in REMOTE_UPSCALERS:
        raise HTTPException(400, "this server upscales with its built-in SR model or Lanczos "
                                 f"only, not {request.kind.label}")
    if request.output_width * request.output_height > limits.max_pixels:
        raise HTTPException(413, f"a {request.output_width}×{request.output_height} result is "
                                 f"larger than this server allows ({limits.max_pixels} pixels)")
    _check_image(request.image, limits)
    path = str(EMBEDDED_SR_DIR) if request.kind is UpscalerKind.SR else ""
    return dataclasses.replace(request, model_path=path), f"upscale-{request.kind.value}"


def _check_size(request: GenerateRequest, limits: Limits) -> None:
    if request.width * request.height > limits.max_pixels:
        raise HTTPException(413, f"{request.width}×{request.height} is larger than this "
                                 f"server allows ({limits.max_pixels} pixels)")
    if request.batch_count > limits.max_batch:
        raise HTTPException(413, f"at most {limits.max_batch} images per job")
    for raw in (request.init_image, request.mask_image):
        if raw is not None:
            _check_image(raw, limits)


def _check_image(raw: bytes, limits: Limits) -> None:
    try:
        with Image.open(io.BytesIO(raw)) as image:
            width, height = image.size
    except Exception:  # noqa: BLE001 - any undecodable input is the client's error
        raise HTTPException(400, "an input image could not be read") from None
    if width * height > limits.max_pixels:
        raise HTTPException(413, f"an input image of {width}×{height} is larger than "
                                 f"this server allows ({limits.max_pixels} pixels)")


async def _job_stream(gateway: Gateway, job: str, model: str,
                      request: dict[str, Any]) -> AsyncIterator[bytes]:
    """`accepted`, then the job's events; `alive` when quiet; a failure is an event too."""
    yield protocol.dumps({"event": "accepted", "job": job})
    events = gateway.stream(job, model, request)
    pending: asyncio.Future | None = None
    try:
        while True:
            pending = pending or asyncio.ensure_future(anext(events))
            done, _ = await asyncio.wait({pending}, timeout=protocol.HEARTBEAT_S)
            if not done:
                yield protocol.dumps({"event": "alive"})
                continue
            event, pending = pending.result(), None
            yield protocol.dumps(event)
            if event.get("event") in ("finished", "failed", "cancelled"):
                return
    except StopAsyncIteration:
        yield protocol.dumps({"event": "failed", "message": "the engine ended the job "
                                                            "without a result"})
    except Exception as exc:  # noqa: BLE001 - errors are data on the stream
        yield protocol.dumps({"event": "failed", "message": f"engine error: {exc}"})
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
        await events.aclose()
