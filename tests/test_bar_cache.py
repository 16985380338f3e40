"""The store's bar frames cached on disk: the next process reads Parquet, and never a frame from before a write."""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from memory.parquet import write_atomically
from memory.store import BARS_REVISION, Store


def bars(closes: dict[str, float]) -> pd.DataFrame:
    index = pd.DatetimeIndex([pd.Timestamp(d) for d in closes], name="date")
    c = list(closes.values())
    return pd.DataFrame({"open": c, "high": c, "low": c, "close": c, "volume": 1e6}, index=index)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    s = Store(tmp_path / "desk.sqlite")
    s.write_bars({"AAA": bars({"2024-01-02": 10.0, "2024-01-03": 11.0}), "BBB": bars({"2024-01-03": 20.0})},
                 kinds={}, source="test")
    s.close()
    return tmp_path / "desk.sqlite"


def cached(path: Path) -> list[Path]:
    return sorted((path.parent / "cache" / "bars").glob("*.parquet"))


def test_a_second_store_object_reads_the_frame_from_the_cache_equal_to_the_store(path: Path) -> None:
    first = Store(path).frame("close")
    assert [p.name.split(".")[-2] for p in cached(path)] == ["close"]
    again = Store(path)
    again.db.conn.execute("DROP TABLE bars")   # proof that the second read does not touch the bars
    pd.testing.assert_frame_equal(again.frame("close"), first)
    assert first.loc["2024-01-03", "BBB"] == 20.0 and pd.isna(first.loc["2024-01-02", "BBB"])


def test_a_write_of_bars_from_another_process_is_seen_and_the_old_file_removed(path: Path) -> None:
    reader = Store(path)
    reader.frame("close")
    old = cached(path)
    writer = Store(path)
    writer.write_bars({"AAA": bars({"2024-01-03": 99.0})}, kinds={}, source="fix")
    fresh = Store(path).frame("close")
    assert fresh.loc["2024-01-03", "AAA"] == 99.0
    assert cached(path) != old and len(cached(path)) == 1


def test_a_damaged_cache_file_is_read_again_from_the_store_and_rewritten(path: Path, caplog) -> None:
    Store(path).frame("close")
    [file] = cached(path)
    file.write_bytes(b"not parquet")
    with caplog.at_level(logging.WARNING, logger="desk.store"):
        frame = Store(path).frame("close")
    assert frame.loc["2024-01-02", "AAA"] == 10.0 and "unreadable" in caplog.text
    pd.testing.assert_frame_equal(pd.read_parquet(file), frame)


def test_a_store_from_before_revisions_gets_one_and_a_cache(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM meta WHERE key=?", [BARS_REVISION])
    conn.commit()
    conn.close()
    s = Store(path)
    assert s.frame("close").shape == (2, 2) and s.get_meta(BARS_REVISION) and len(cached(path)) >= 1


def test_a_cache_that_cannot_be_written_costs_speed_never_the_frame(path: Path) -> None:
    (path.parent / "cache").write_text("a file where the cache folder would go")
    assert Store(path).frame("close").loc["2024-01-02", "AAA"] == 10.0


def test_a_full_disk_while_caching_leaves_no_partial_file_and_no_line_for_the_user(path: Path, monkeypatch,
                                                                                    caplog) -> None:
    import errno

    def full(self, target, *args, **kwargs):
        Path(target).write_bytes(b"half a file")
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(pd.DataFrame, "to_parquet", full)
    with caplog.at_level(logging.WARNING):
        assert Store(path).frame("close").loc["2024-01-03", "BBB"] == 20.0
    assert not caplog.records
    assert not [p for p in (path.parent / "cache" / "bars").iterdir()]


def test_a_temporary_file_left_by_a_killed_writer_is_removed_by_the_next_write(tmp_path):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(gone.stdout)
    target = tmp_path / "cache" / "frame.parquet"
    target.parent.mkdir(parents=True)
    stale = target.with_name(f".{target.name}.{dead_pid}-0badc0de.tmp")
    live = target.with_name(f".{target.name}.{os.getpid()}-0f00d000.tmp")  # a writer of this process, still writing
    other = target.with_name(f".other.parquet.{dead_pid}-0badc0de.tmp")     # another file's: not this write's
    for f in (stale, live, other):
        f.write_bytes(b"half a file")
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    write_atomically(frame, target)
    pd.testing.assert_frame_equal(pd.read_parquet(target), frame)
    assert not stale.exists() and live.exists() and other.exists()
