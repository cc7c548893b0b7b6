"""Cancel inside a step: on the CPU one full-size SD step takes many seconds.

The runner checks the cancel flag after every step; on the CPU that alone leaves the user
waiting up to a whole step (SD 1.5 at 512² on 2 cores: ~10-20 s, and as long again for the
final VAE decode). These forward pre-hooks check the flag before every UNet and VAE block, so
cancel lands within a fraction of a step. Not installed on GPUs (steps are short there, and
hooks would interfere with `torch.compile`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


def _blocks(pipe) -> list:  # noqa: ANN001 - a diffusers pipeline
    found: list = []
    unet = getattr(pipe, "unet", None)
    if unet is not None and not hasattr(unet, "_orig_mod"):  # hooks would recompile a compiled UNet
        found += [*getattr(unet, "down_blocks", []), getattr(unet, "mid_block", None),
                  *getattr(unet, "up_blocks", [])]
    vae = getattr(pipe, "vae", None)
    for coder, name in ((getattr(vae, "decoder", None), "up_blocks"),
                        (getattr(vae, "encoder", None), "down_blocks")):
        if coder is not None:
            found += [getattr(coder, "mid_block", None), *getattr(coder, name, [])]
    return [block for block in found if block is not None]


@contextmanager
def cancel_points(pipe, cancel: threading.Event, error: type[Exception],  # noqa: ANN001
                  enabled: bool = True) -> Iterator[None]:
    """While active, raise `error` before any UNet/VAE block runs once `cancel` is set."""
    if not enabled:
        yield
        return

    def check(module, args) -> None:  # noqa: ANN001
        if cancel.is_set():
            raise error()

    handles = [block.register_forward_pre_hook(check) for block in _blocks(pipe)]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
