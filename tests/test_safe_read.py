"""The bounded, non-blocking file reader used for everything a model folder ships (#19)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from studio.core.safe_read import (
    FileReadError,
    open_regular,
    read_bytes_bounded,
    read_json_file,
    read_json_object,
    read_text_bounded,
)
from tests.hostile_helpers import run_guarded


def test_reads_a_small_file(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text('{"x": [1, 2]}')
    assert read_json_object(tmp_path / "a.json") == {"x": [1, 2]}
    assert read_text_bounded(tmp_path / "a.json") == '{"x": [1, 2]}'


@pytest.mark.parametrize("size", [0, 1, 99, 100])
def test_files_up_to_the_bound_are_read(tmp_path: Path, size: int) -> None:
    (tmp_path / "f").write_bytes(b"x" * size)
    assert read_bytes_bounded(tmp_path / "f", max_bytes=100) == b"x" * size


@pytest.mark.parametrize("size", [101, 1000, 10**7])
def test_files_over_the_bound_are_refused(tmp_path: Path, size: int) -> None:
    with open(tmp_path / "f", "wb") as handle:
        handle.truncate(size)
    with pytest.raises(FileReadError, match=r"f: larger than 100 bytes"):
        read_bytes_bounded(tmp_path / "f", max_bytes=100)


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(FileReadError, match=r"pipe: not a regular file \(a FIFO"):
        run_guarded(lambda: read_bytes_bounded(tmp_path / "pipe"), timeout=10)


def test_a_link_to_dev_zero_is_refused(tmp_path: Path) -> None:
    os.symlink("/dev/zero", tmp_path / "zero")
    with pytest.raises(FileReadError, match="character device"):
        run_guarded(lambda: open_regular(tmp_path / "zero"), timeout=10)


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileReadError, match="a directory"):
        read_json_file(tmp_path)


def test_missing_is_file_not_found_and_a_broken_link_says_so(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_json_file(tmp_path / "missing.json")
    os.symlink("missing.json", tmp_path / "link.json")
    with pytest.raises(FileReadError, match="broken symbolic link"):
        read_json_file(tmp_path / "link.json")


@pytest.mark.parametrize(("data", "message"), [
    (b"{", r"invalid JSON \(Expecting property name enclosed in double quotes at line 1"),
    (b"\xff", r"not UTF-8 text \(bad byte at offset 0\)"),
    (b"[" * 100_000, r"invalid JSON \(nested too deeply\)"),
    (b"9" * 5000, r"invalid JSON \(Exceeds the limit"),
])
def test_bad_content_is_a_one_line_error_naming_the_file(tmp_path: Path, data: bytes,
                                                         message: str) -> None:
    (tmp_path / "c.json").write_bytes(data)
    with pytest.raises(FileReadError, match=message) as info:
        read_json_file(tmp_path / "c.json")
    assert str(info.value).startswith(str(tmp_path / "c.json")) and "\n" not in str(info.value)


@pytest.mark.parametrize(("data", "found"), [
    (b"[]", "an array"), (b'"s"', "a string"), (b"true", "a boolean"), (b"null", "null"),
    (b"3", "a number"),
])
def test_json_object_names_what_it_found(tmp_path: Path, data: bytes, found: str) -> None:
    (tmp_path / "c.json").write_bytes(data)
    with pytest.raises(FileReadError, match=f"expected a JSON object, found {found}"):
        read_json_object(tmp_path / "c.json")


def test_the_error_is_a_value_error_so_callers_catching_value_error_keep_working() -> None:
    assert issubclass(FileReadError, ValueError)
