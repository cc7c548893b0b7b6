"""`studio --help` and argument errors import nothing heavy (not timed: see bench/startup.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.cli_helpers import ROOT

HEAVY = ("torch", "diffusers", "transformers", "PIL.Image", "numpy", "PySide6")


def _imported_after(code: str) -> dict[str, bool]:
    probe = (f"import json, sys\n{code}\n"
             f"print(json.dumps({{m: m in sys.modules for m in {HEAVY!r}}}))")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_building_the_parser_imports_no_heavy_library():
    imported = _imported_after("import studio.cli; studio.cli.build_parser()")
    assert imported == dict.fromkeys(HEAVY, False)


@pytest.mark.parametrize("argv", [
    ["--help"], ["generate", "--help"], ["upscale", "--help"], ["data", "--help"],
    ["train", "--help"], ["generate", "--steps", "abc", "--output", "x.png"],
    ["img2img", "--image", "in.png"], ["upscale", "--scale", "3"],
])
def test_help_and_argument_errors_import_no_heavy_library(argv):
    code = ("import studio.cli\n"
            f"try:\n    studio.cli.main({argv!r})\nexcept SystemExit as exc:\n"
            "    assert exc.code in (0, 2), exc.code")
    assert _imported_after(code) == dict.fromkeys(HEAVY, False)


def test_process_settings_are_made_before_any_command_runs(monkeypatch):
    from studio import cli

    seen: list[str | None] = []
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.setattr(cli, "build_parser",
                        lambda: seen.append(os.environ.get("OMP_WAIT_POLICY")) or 1 / 0)
    with pytest.raises(ZeroDivisionError):
        cli.main(["generate"])
    assert seen == ["PASSIVE"]
