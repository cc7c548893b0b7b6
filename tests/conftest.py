from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("STUDIO_DEVICE", "cpu")

import pytest  # noqa: E402

from tests.tiny_models import build_tiny_sd  # noqa: E402


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory):
    """A tiny random SD pipeline saved as a diffusers folder, shared by the whole run."""
    return build_tiny_sd(tmp_path_factory.mktemp("models"))
