from __future__ import annotations

import sqlite3

from PIL import Image

from studio.core.autosave import Autosave, SessionMarker
from studio.core.history import DB_NAME, History, IndexingSaver
from studio.core.outputs import OutputFolder
from studio.core.requests import GenerateRequest


def _saver(root, history=None):
    return IndexingSaver(OutputFolder(root), history)


def _save(saver, prompt, seed=1, color="red"):
    request = GenerateRequest(model_path="/m/tiny", model_name="tiny", prompt=prompt, seed=seed,
                              width=64, height=64, steps=3)
    return saver.save(1, 0, Image.new("RGB", (64, 48), color), request)


def test_saved_images_are_indexed_searchable_and_survive_reopen(tmp_path):
    history = History.open(tmp_path)
    saver = _saver(tmp_path, history)
    for i, prompt in enumerate(["a red apple", "A green APPLE, 50% off_sale", "a blue car"]):
        _save(saver, prompt, seed=i)
    assert [e.prompt for e in history.search("apple")] == ["A green APPLE, 50% off_sale",
                                                           "a red apple"]
    assert [e.prompt for e in history.search("50%")] == ["A green APPLE, 50% off_sale"]
    assert history.search("n_a") == [] and len(history.search("")) == 3
    entry = history.search("car")[0]
    assert entry.path.is_file() and entry.parameters.seed == 2 and entry.thumb[:4] == b"\x89PNG"
    history.close()
    reopened = History.open(tmp_path)
    assert reopened.count() == 3 and reopened.search("car")[0].id == entry.id


def test_delete_moves_to_trash_and_undo_restores(tmp_path):
    history = History.open(tmp_path)
    result = _save(_saver(tmp_path, history), "keep me")
    entry = history.search()[0]
    deleted = history.delete(entry.id)
    assert not result.path.exists() and deleted.trash_path.is_file()
    assert deleted.trash_path.parent.name == ".trash" and history.count() == 0
    history.close()
    history = History.open(tmp_path)  # trash is not re-indexed
    assert history.count() == 0
    history._undo.append(deleted)
    restored = history.undo_delete()
    assert restored is not None and result.path.is_file()
    assert [e.id for e in history.search()] == [entry.id] and not history.can_undo


def test_missing_or_corrupt_index_is_rebuilt_from_pngs(tmp_path):
    saver = _saver(tmp_path)  # no index at all while saving
    paths = [_save(saver, f"image {i}", seed=i).path for i in range(3)]
    history = History.open(tmp_path)
    assert sorted(e.path for e in history.search()) == sorted(paths)
    assert history.search("image 1")[0].parameters.seed == 1
    history.close()
    (tmp_path / DB_NAME).write_bytes(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"{DB_NAME}{suffix}").unlink(missing_ok=True)
    history = History.open(tmp_path)
    assert history.count() == 3
    assert any(p.name.startswith(f"{DB_NAME}.corrupt-") for p in tmp_path.iterdir())
    paths[0].unlink()  # a file removed behind our back is forgotten
    history.close()
    assert History.open(tmp_path).count() == 2


def test_index_is_wal_and_rebuild_matches(tmp_path):
    history = History.open(tmp_path)
    _save(_saver(tmp_path, history), "x")
    mode = sqlite3.connect(tmp_path / DB_NAME).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    assert history.rebuild() == 1 and history.search()[0].prompt == "x"


def test_unwritable_folder_is_a_result_error_not_an_exception(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = _save(_saver(blocker), "x")
    assert result.path is None and "Could not save" in result.save_error


def test_autosave_round_trip_with_mask_and_replacement(tmp_path):
    autosave = Autosave(tmp_path / "autosave")
    assert autosave.load() is None
    autosave.save(Image.new("RGB", (16, 8), "red"), None, {"prompt": "first"})
    autosave.save(Image.new("RGB", (8, 8), "blue"), Image.new("L", (8, 8), 255),
                  {"prompt": "second", "seed": 3})
    snap = autosave.load()
    assert snap.image.getpixel((0, 0)) == (0, 0, 255) and snap.mask.getpixel((0, 0)) == 255
    assert snap.meta == {"prompt": "second", "seed": 3}
    assert sorted(p.name.split("-")[0] for p in autosave.folder.glob("*.png")) == ["canvas",
                                                                                   "mask"]
    autosave.clear()
    assert autosave.load() is None


def test_session_marker_detects_unclean_exit(tmp_path):
    first = SessionMarker(tmp_path, pid=2**22 + 12345)  # a pid that is not running
    assert first.begin() is False
    # the process "dies" without end(): the next session notices, once
    assert SessionMarker(tmp_path).begin() is True
    current = SessionMarker(tmp_path)
    assert current.begin() is False
    current.end()
    assert SessionMarker(tmp_path).begin() is False
