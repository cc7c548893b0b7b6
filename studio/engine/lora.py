"""LoRA adapters on the loaded pipeline, through diffusers' PEFT integration.

Each job asks for the LoRAs its prompt's tags name (`studio.core.lora`). Adapters already on
the modules are kept when a later job uses them again (only their weights are set), the ones a
job does not use are deleted, and a job without LoRAs unloads them all, which puts the
original modules back: its pixels equal a fresh start's. Files are read with safetensors
(never unpickled) and handed to `load_lora_weights` as a state dict; diffusers converts the
kohya/A1111 layout. A LoRA that does not fit (shapes, no matching layer, unreadable) raises
LoraError, or is left out with a status note when the request says `skip_bad_loras`.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from studio.core.lora import (
    LoraError,
    LoraSkippable,
    LoraTag,
    check_lora_file,
    find_lora,
    lora_folders,
    parse_lora_tags,
)
from studio.engine.messages import error_line

log = logging.getLogger(__name__)
StatusCallback = Callable[[str], None]


@dataclass(frozen=True)
class _Wanted:
    tag: LoraTag
    path: Path
    key: tuple[str, int, int]  # path, size, mtime: a changed file is loaded again

    @property
    def adapter(self) -> str:
        safe = re.sub(r"\W", "_", self.tag.name)[:40]
        return f"lora_{safe}_{abs(hash(self.key)) % 10**8}"


class LoraAdapters:
    """The adapters on one pipeline's modules, kept in step with each job's tags."""

    def __init__(self) -> None:
        self.loaded: dict[str, tuple[str, int, int]] = {}  # adapter name -> file key
        self._modules: object | None = None  # the UNet the adapters sit on

    def apply_request(self, pipe, request,  # noqa: ANN001 - a pipeline, a GenerateRequest
                      on_status: StatusCallback | None = None) -> list[str]:
        """Apply the LoRAs the request's prompt names (none: remove all adapters)."""
        _, tags = parse_lora_tags(request.prompt)
        return self.apply(pipe, tags, request.model_path,
                          getattr(request, "skip_bad_loras", False), on_status)

    def apply(self, pipe, tags: list[LoraTag], model_path: str,  # noqa: ANN001
              skip_bad: bool = False, on_status: StatusCallback | None = None) -> list[str]:
        """Make exactly `tags` active on `pipe`; returns the names applied."""
        if getattr(pipe, "unet", None) is not self._modules:  # another model: a clean slate
            self.loaded, self._modules = {}, getattr(pipe, "unet", None)
        wanted = self._resolve(tags, model_path, skip_bad, on_status)
        if not wanted:
            self.clear(pipe)
            return []
        stale = [name for name in self.loaded if name not in {w.adapter for w in wanted}]
        if stale:
            pipe.delete_adapters(stale)
            for name in stale:
                del self.loaded[name]
        usable = [w for w in wanted if self._load(pipe, w, skip_bad, on_status)]
        if not usable:
            self.clear(pipe)
            return []
        pipe.set_adapters([w.adapter for w in usable],
                          adapter_weights=[_weights(w.tag) for w in usable])
        return [w.tag.name for w in usable]

    def clear(self, pipe) -> None:  # noqa: ANN001
        """Remove every adapter: the modules are the model's own again."""
        if self.loaded:
            pipe.unload_lora_weights()
            self.loaded = {}

    def _resolve(self, tags: list[LoraTag], model_path: str, skip_bad: bool,
                 on_status: StatusCallback | None) -> list[_Wanted]:
        folders = lora_folders(model_path)
        wanted = []
        for tag in tags:
            try:
                path = find_lora(tag.name, folders)
                check_lora_file(path, tag.name)
                info = os.stat(path)
            except (LoraError, OSError) as exc:
                _refuse(exc, skip_bad, on_status)
                continue
            wanted.append(_Wanted(tag, path, (str(path.resolve()), info.st_size,
                                              info.st_mtime_ns)))
        return wanted

    def _load(self, pipe, wanted: _Wanted, skip_bad: bool,  # noqa: ANN001
              on_status: StatusCallback | None) -> bool:
        if wanted.adapter in self.loaded:
            return True
        try:
            _load_adapter(pipe, wanted)
        except LoraError as exc:
            _forget(pipe, wanted.adapter, keep=bool(self.loaded))
            _refuse(exc, skip_bad, on_status)
            return False
        self.loaded[wanted.adapter] = wanted.key
        return True


def _load_adapter(pipe, wanted: _Wanted) -> None:  # noqa: ANN001
    from safetensors.torch import load_file

    name = wanted.tag.name
    try:
        state = load_file(str(wanted.path))
    except Exception as exc:  # noqa: BLE001 - a corrupt file, whatever safetensors raises
        raise LoraError(f"LoRA {name!r}: {wanted.path.name} cannot be read ({error_line(exc)})"
                        ) from None
    try:
        pipe.load_lora_weights(state, adapter_name=wanted.adapter)
    except Exception as exc:  # noqa: BLE001 - shape mismatch, unknown layout, …
        raise LoraError(f"LoRA {name!r} does not fit this model: {_mismatch(exc)}") from None
    if not any(wanted.adapter in names for names in pipe.get_list_adapters().values()):
        raise LoraError(f"LoRA {name!r} does not fit this model (none of its layers exist in "
                        "it: made for another architecture?)")


def _mismatch(exc: Exception) -> str:
    """One line for a failed load: the first differing shape, else the error's first line."""
    text = str(exc)
    match = re.search(r"size mismatch for ([\w.]+?)(?:\.lora_\w+)*\.weight: copying a param "
                      r"with shape torch\.Size\((\[[^]]*\])\) from checkpoint, the shape in "
                      r"current model is torch\.Size\((\[[^]]*\])\)", text)
    if match is None:
        return error_line(exc)
    count = text.count("size mismatch")
    layer, theirs, ours = match.groups()
    return (f"{count} layer shape(s) differ, e.g. {layer}: {theirs} in the LoRA, {ours} in the "
            "model (a LoRA for another architecture?)")


def _forget(pipe, adapter: str, keep: bool) -> None:  # noqa: ANN001
    """Remove what a failed load may have left behind (all LoRA layers unless `keep`)."""
    try:
        if any(adapter in names for names in pipe.get_list_adapters().values()):
            pipe.delete_adapters([adapter])
        if not keep:
            pipe.unload_lora_weights()
    except Exception:  # noqa: BLE001 - best effort; the next job without LoRAs unloads all
        log.warning("could not remove the failed adapter %s", adapter, exc_info=True)


def _refuse(exc: Exception, skip_bad: bool, on_status: StatusCallback | None) -> None:
    if not skip_bad:
        raise LoraSkippable(str(exc) if isinstance(exc, LoraError) else error_line(exc)) from None
    log.warning("skipping LoRA: %s", exc)
    if on_status is not None:
        on_status(f"Skipped: {error_line(exc)}")


def _weights(tag: LoraTag) -> float | dict[str, float]:
    if tag.unet_weight is None:
        return tag.weight
    return {"unet": tag.unet, "text_encoder": tag.weight, "text_encoder_2": tag.weight}
