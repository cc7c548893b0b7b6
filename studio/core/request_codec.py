"""Requests to and from JSON-safe dicts: for the persisted queue and for remote engines.

Only the known request types are built back; bytes travel as base64, enums as values.
Nothing is ever unpickled.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import typing
from typing import Any

from studio.core.backend import REQUEST_TYPES, Request

_BY_NAME = {cls.__name__: cls for cls in REQUEST_TYPES}
MAX_ENCODED_BYTES = 256 * 1024 * 1024  # a decoded image field is refused above this


def encode_request(request: Request) -> dict[str, Any]:
    """A JSON-safe dict with a `type` tag."""
    if type(request).__name__ not in _BY_NAME:
        raise ValueError(f"cannot encode {type(request).__name__}")
    out: dict[str, Any] = {"type": type(request).__name__}
    for f in dataclasses.fields(request):
        out[f.name] = _encode_value(getattr(request, f.name))
    return out


def _encode_value(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return encode_request(value)  # type: ignore[arg-type]
    if isinstance(value, bytes):
        return {"__bytes__": base64.b64encode(value).decode("ascii")}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [_encode_value(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise ValueError(f"cannot encode a {type(value).__name__} field")


def decode_request(data: object) -> Request:
    """Build the request back; ValueError with a clear message on anything unexpected."""
    if not isinstance(data, dict) or data.get("type") not in _BY_NAME:
        raise ValueError("not a saved job request")
    cls = _BY_NAME[data["type"]]
    hints = typing.get_type_hints(cls)
    unknown = set(data) - {"type"} - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        raise ValueError(f"bad {cls.__name__}: unknown field(s) {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            values[f.name] = _decode_value(data[f.name], hints.get(f.name))
    try:
        return cls(**values)
    except TypeError as exc:
        raise ValueError(f"bad {cls.__name__}: {exc}") from None


def _decode_value(value: object, hint: object) -> object:
    if isinstance(value, dict) and "__bytes__" in value:
        text = value["__bytes__"]
        if not isinstance(text, str) or len(text) > MAX_ENCODED_BYTES * 4 // 3 + 4:
            raise ValueError("an image field is too large")
        return base64.b64decode(text, validate=True)
    if isinstance(value, dict):
        return decode_request(value)
    if isinstance(value, list):
        return tuple(_decode_value(v, None) for v in value)
    for option in typing.get_args(hint) or (hint,):
        if isinstance(option, type) and issubclass(option, enum.Enum) and value is not None:
            try:
                return option(value)
            except ValueError:
                raise ValueError(f"unknown {option.__name__} {value!r}") from None
    return value
