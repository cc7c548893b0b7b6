"""Model files for the optional `spandrel` package (upscalers, inpainting models), read safely.

The weights are read here, weights-only (safetensors, or `torch.load(weights_only=True)` for
.pth/.pt/.ckpt: a file that would run code is refused), and handed to spandrel as a state
dict, so no spandrel code path unpickles a user's file.
"""

from __future__ import annotations

from pathlib import Path

from studio.engine.messages import error_line
from studio.engine.pipelines import ModelLoadError

INPAINTING = "Inpainting"  # spandrel's `purpose` of LaMa, MAT and the like


def load_spandrel_model(path: Path, device: str, what: str) -> object:
    """The spandrel model descriptor in `path` on `device`, eval mode.

    `what` names the files in messages ("Upscaler model files"); every failure is a one-line
    ModelLoadError.
    """
    try:
        import spandrel
    except Exception as exc:  # noqa: BLE001 - missing, or its torchvision does not import
        raise ModelLoadError(
            f"{what} need the optional `spandrel` package, which is not installed or cannot "
            f"be imported ({error_line(exc)}). Install it with: pip install spandrel"
        ) from None
    state = read_weights(path)
    try:
        state = spandrel.canonicalize_state_dict(state)
        descriptor = spandrel.ModelLoader().load_from_state_dict(state)
    except Exception as exc:  # noqa: BLE001 - an unknown architecture, a broken file
        raise ModelLoadError(f"spandrel could not load {path.name}: {error_line(exc)}") from None
    return descriptor.to(device).eval()


def read_weights(path: Path) -> dict:
    """The tensors in `path` (safetensors or a weights-only torch file), or ModelLoadError."""
    from studio.core.safe_read import check_regular_file

    try:
        check_regular_file(path)
    except FileNotFoundError:
        raise ModelLoadError(f"Model file not found: {path}") from None
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"Model file not usable: {path} ({error_line(exc)})") from None
    if path.suffix.lower() == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except Exception as exc:  # noqa: BLE001 - whatever a corrupt file raises
            raise ModelLoadError(f"{path.name} is not a readable safetensors file "
                                 f"({error_line(exc)})") from None
    from studio.training.common import CheckpointError, load_checkpoint

    try:
        state = load_checkpoint(path)
    except CheckpointError as exc:
        raise ModelLoadError(str(exc)) from None
    if state is None:
        raise ModelLoadError(f"Model file not found: {path}")
    return state
