"""A corrupt History index is reported by its real path, not as "None" (issue #19)."""

from __future__ import annotations

import logging

from studio.core.history import DB_NAME, History


def test_corrupt_index_warning_names_the_real_file(tmp_path, caplog):
    (tmp_path / DB_NAME).write_bytes(b"this is not a database" * 100)
    with caplog.at_level(logging.WARNING, logger="studio.core.history"):
        History.open(tmp_path).close()
    message = next(r.getMessage() for r in caplog.records if "unreadable" in r.getMessage())
    assert f"history index {tmp_path / DB_NAME} is unreadable" in message
    assert "None" not in message
    assert any(p.name.startswith(f"{DB_NAME}.corrupt-") for p in tmp_path.iterdir())
