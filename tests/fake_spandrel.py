"""A stand-in for the optional `spandrel` package, written as a package folder for tests.

spandrel imports torchvision, and PyPI's torchvision does not import beside this project's
CPU torch, so the real package cannot be installed here. The stand-in has spandrel's API as
Studio uses it (`canonicalize_state_dict`, `ModelLoader().load_from_state_dict`, descriptors
with `purpose`, `architecture.name`, `to`, `eval` and `__call__(image, mask)` on [0, 1]
tensors): an "inpainting model" whose file holds the colour it paints with.
"""

from __future__ import annotations

from pathlib import Path

SOURCE = '''
import torch


def canonicalize_state_dict(state):
    return state.get("params_ema", state)


class UnsupportedModelError(Exception):
    pass


class _Arch:
    def __init__(self, name):
        self.name = name


class _Descriptor:
    dtype = torch.float32

    def __init__(self, color, purpose, name):
        self.color, self.purpose, self.architecture = color, purpose, _Arch(name)

    def to(self, device):
        return self

    def eval(self):
        return self

    def __call__(self, image, mask):
        assert image.dim() == 4 and image.shape[1] == 3 and mask.shape[1] == 1
        assert set(mask.unique().tolist()) <= {0.0, 1.0}
        fill = self.color.float().view(1, 3, 1, 1).expand_as(image)
        return image * (1 - mask) + fill * mask


class ModelLoader:
    def load_from_state_dict(self, state):
        if "color" in state:
            return _Descriptor(state["color"], "Inpainting", "FakeLaMa")
        if "sr" in state:
            return _Descriptor(state["sr"], "SR", "FakeESRGAN")
        raise UnsupportedModelError("Unsupported model architecture")
'''


def install(folder: Path) -> Path:
    """Write the stand-in as `folder/spandrel/__init__.py`; returns `folder` (for sys.path)."""
    package = folder / "spandrel"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text(SOURCE)
    return folder
