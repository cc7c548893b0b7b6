"""From a batch item to the frozen request the engine runs (the single commands' requests).

Input images are read with a bound (a regular file, at most `MAX_INPUT_BYTES`; a FIFO or a
device is refused without blocking) and decoded by `core.images.open_image`; any failure is
a ValueError naming the input, which the runners turn into a failed item, not a crash.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from studio.batch.plan import BatchItem
from studio.core.requests import GenerateRequest

MAX_INPUT_BYTES = 512 * 1024 * 1024
KINDS = ("upscale", "img2img", "generate")


@dataclass(frozen=True)
class BatchSpec:
    """What every item of a batch gets done to; plain data, sent as is to Ray actors."""

    kind: str  # one of KINDS
    template: GenerateRequest | None = None  # img2img: every field but the image and its size
    upscale: dict[str, object] = field(default_factory=dict)  # core.upscale.make_request kwargs
    device: str = "auto"


def build_request(spec: BatchSpec, item: BatchItem) -> object:
    """The item's request, validated; ValueError (naming the input) when it cannot run."""
    if item.request is not None:
        return item.request
    if item.source is None:
        raise ValueError(f"{item.label}: no input")
    data = read_input(item)
    if spec.kind == "upscale":
        request: object = _upscale_request(spec, item, data)
    elif spec.kind == "img2img" and spec.template is not None:
        request = _edit_request(spec.template, data)
    else:
        raise ValueError(f"a {spec.kind} batch needs input images")
    request.validate()  # type: ignore[attr-defined]
    return request


def read_input(item: BatchItem) -> bytes:
    """The input file's bytes, bounded; ValueError saying why it cannot be read."""
    from studio.core.safe_read import read_bytes_bounded

    try:
        return read_bytes_bounded(item.source, MAX_INPUT_BYTES)  # type: ignore[arg-type]
    except FileNotFoundError:
        raise ValueError("cannot read input image: it is gone") from None
    except OSError as exc:
        raise ValueError(f"cannot read input image: {exc.strerror or exc}") from None
    except ValueError as exc:  # FileReadError: not a regular file, too large
        raise ValueError(f"cannot read input image {exc}") from None


def _upscale_request(spec: BatchSpec, item: BatchItem, data: bytes) -> object:
    from studio.core.images import open_image
    from studio.core.upscale import make_request

    source = open_image(data, "input image")
    name = item.source.name if item.source is not None else ""
    return make_request(source, source_name=name, **spec.upscale)  # type: ignore[arg-type]


def _edit_request(template: GenerateRequest, data: bytes) -> GenerateRequest:
    from studio.core.images import open_image

    width, height = open_image(data, "input image").size
    return replace(template, init_image=data, width=width, height=height)
