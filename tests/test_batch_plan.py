"""`studio batch` planning, pure: listing, mirrored names, prompts files (hostile ones too)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from studio.batch.plan import list_inputs, mirror_items, pending, prompt_output, slug
from studio.batch.prompts import (
    MAX_PROMPTS_BYTES,
    PromptsFileError,
    looks_like_csv,
    parse_csv,
    parse_lines,
    read_prompts,
)


def _touch(root: Path, *names: str) -> None:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"x")


def test_listing_is_recursive_sorted_and_skips_hidden_others_and_the_output(tmp_path):
    src = tmp_path / "in"
    _touch(src, "b.jpg", "a/c.PNG", "a/d/e.webp", ".hidden/x.png", "a/.y.png", "notes.txt",
           "out/old.png")
    (src / "loop").symlink_to(src)  # a symlinked folder is not followed (no endless walk)
    listing = list_inputs(src, exclude=src / "out")
    assert [p.relative_to(src).as_posix() for p in listing.files] == [
        "a/c.PNG", "a/d/e.webp", "b.jpg"]
    with pytest.raises(ValueError, match="more than 2 images"):
        list_inputs(src, max_inputs=2)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any folder")
def test_unlistable_folder_is_an_error_as_data(tmp_path):
    _touch(tmp_path, "ok.png", "locked/x.png")
    (tmp_path / "locked").chmod(0)
    try:
        listing = list_inputs(tmp_path)
    finally:
        (tmp_path / "locked").chmod(0o755)
    assert [p.name for p in listing.files] == ["ok.png"]
    assert listing.errors and listing.errors[0][0].endswith("locked")


def test_outputs_mirror_the_tree_and_colliding_names_keep_their_suffix(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    _touch(src, "a/b.jpg", "a/b.png", "c.tif", "b.jpg.png")
    items = mirror_items(list_inputs(src).files, src, out)
    outputs = {item.label: item.output.relative_to(out).as_posix() for item in items}
    assert outputs["c.tif"] == "c.png"
    assert outputs["a/b.jpg"] == "a/b.jpg.png" and outputs["a/b.png"] == "a/b.png.png"
    assert len(set(outputs.values())) == len(outputs)
    _touch(out, "c.png")
    todo, done = pending(items)
    assert done == 1 and [items[i].label for i in todo] == ["a/b.jpg", "a/b.png", "b.jpg.png"]


def test_an_output_never_lands_on_an_input(tmp_path):
    _touch(tmp_path, "x/a.png", "a.png")  # IN = tmp/x, OUT = tmp: x/a.png -> tmp/a.png (an input?)
    items = mirror_items(list_inputs(tmp_path / "x").files, tmp_path / "x", tmp_path)
    assert items[0].output == tmp_path / "a.png"  # not an input of this batch: fine
    items = mirror_items((tmp_path / "x/a.png",), tmp_path / "x", tmp_path / "x")
    assert items[0].output == tmp_path / "x" / "a.out.png"


def test_prompt_names_are_stable_slugs_of_the_line():
    name = prompt_output(Path("o"), 12, "A red apple, glossy!").name
    assert name == "00012-a-red-apple-glossy.png"
    assert slug("🍎🍏") == "prompt" and slug("Crème brûlée") == "creme-brulee"
    assert len(slug("word " * 50)) <= 40 and not slug("word " * 50).endswith("-")


def test_lines_skip_blanks_and_comments_and_keep_line_numbers():
    entries = parse_lines("red apple\n\n# a comment\n  green apple  \r\n", "p.txt")
    assert [(e.line, e.prompt) for e in entries] == [(1, "red apple"), (4, "green apple")]


def test_csv_columns_aliases_and_empty_cells():
    text = ('Prompt,negative_prompt,seed,steps,CFG,width,height,sampler\n'
            '"apple, red",blurry,5,3,2.5,64,48,euler a\n'
            '\n'
            'pear,,,,,,,\n')
    assert looks_like_csv(text)
    first, second = parse_csv(text, "p.csv")
    assert first.prompt == "apple, red" and first.line == 2
    assert first.values == {"negative": "blurry", "seed": 5, "steps": 3, "guidance": 2.5,
                            "width": 64, "height": 48, "scheduler": "Euler a"}
    assert second.line == 4 and second.prompt == "pear" and second.values == {}


def test_multiline_cells_name_the_row_by_its_first_line():
    entries = parse_csv('prompt,seed\n"two\nlines",1\nnext,2\n', "p.csv")
    assert [(e.line, e.values["seed"]) for e in entries] == [
        (2, 1), (4, 2)]


@pytest.mark.parametrize("text, message", [
    ("prompt,colour\nx,red\n", "unknown column(s) 'colour'"),
    ("prompt,seed,Seed\nx,1,2\n", "named twice: seed"),
    ("seed,steps\n1,2\n", "no 'prompt' column"),
    ("prompt,seed\nx,one\n", "line 2: seed must be a whole number"),
    ("prompt,guidance\nx,nan\n", "guidance must be a number"),
    ("prompt,scheduler\nx,warp drive\n", "unknown scheduler"),
    ("prompt,seed\nx,1,2\n", "line 2: 3 cells, but the header names 2"),
    ('prompt,seed\n"x,1\n', "not valid CSV"),
    ("prompt\nx\0y\n", "NUL"),
    ("prompt\n" + "x" * 10_001 + "\n", "characters long"),
    ("", "empty"),
])
def test_bad_csv_is_a_clear_error(text, message):
    with pytest.raises(PromptsFileError, match="p.csv") as info:
        parse_csv(text, "p.csv")
    assert message in str(info.value)


def test_every_bad_row_is_reported_at_once():
    text = "prompt,steps\n" + "".join(f"p{i},x\n" for i in range(15))
    with pytest.raises(PromptsFileError) as info:
        parse_csv(text, "p.csv")
    assert "line 2:" in str(info.value) and "(and 5 more)" in str(info.value)


def test_hostile_prompts_files_are_refused_without_hanging(tmp_path):
    big = tmp_path / "big.txt"
    with big.open("wb") as handle:
        handle.truncate(MAX_PROMPTS_BYTES + 1)
    fifo = tmp_path / "fifo.txt"
    os.mkfifo(fifo)
    (tmp_path / "latin1.txt").write_bytes(b"caf\xe9\n")
    (tmp_path / "empty.txt").write_text("\n# only a comment\n")
    for name, message in (("big.txt", "larger than"), ("fifo.txt", "FIFO"),
                          ("latin1.txt", "not UTF-8"), ("empty.txt", "no prompts"),
                          ("missing.txt", "not found")):
        with pytest.raises(PromptsFileError, match=message):
            read_prompts(tmp_path / name)


def test_format_detection(tmp_path):
    (tmp_path / "p.txt").write_text("prompt,seed\nx,1\n")
    (tmp_path / "q.txt").write_text("a cat, a dog\n")
    (tmp_path / "r.csv").write_text("prompt\nsingle column\n")
    assert read_prompts(tmp_path / "p.txt")[0].values == {"seed": 1}  # a header: CSV
    assert read_prompts(tmp_path / "q.txt")[0].prompt == "a cat, a dog"  # commas: still lines
    assert read_prompts(tmp_path / "r.csv")[0].prompt == "single column"
    assert read_prompts(tmp_path / "p.txt", "lines")[0].prompt == "prompt,seed"
