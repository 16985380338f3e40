"""Remaining bad inputs of issue 19 (item 9): a replay over a range with no sessions leaves no lock file behind, a
first run whose load fails leaves no half-made store, and an over-long DESK_HOME is one clear line (exit 2) that
creates nothing."""

from __future__ import annotations

import errno

import pytest

from tests import kit


@pytest.mark.parametrize("span", [("2017-01-07", "2017-01-08"), ("1980-01-01", "1980-12-31")])
def test_a_replay_over_a_range_with_no_sessions_leaves_no_lock_file(home, capsys, span) -> None:
    def files() -> list:  # what the home holds (SQLite's -wal and -shm come and go with any reader)
        return sorted(p for p in home.rglob("*") if not p.name.endswith(("-wal", "-shm")))

    before = files()
    code, out, err = kit.run_cli(capsys, "replay", "--from", span[0], "--to", span[1])
    assert code == 2 and "no trading sessions with data between" in err and len(err.strip().splitlines()) == 1
    assert files() == before  # no lock file, no replay folder: nothing


def test_a_first_run_whose_load_fails_leaves_no_half_made_store(desk_home, capsys, monkeypatch) -> None:
    from tools.data.bundled import BundledProvider

    def full_disk(self, symbols=None, until=None):
        raise OSError(errno.ENOSPC, "No space left on device", str(desk_home / "desk.sqlite"))

    monkeypatch.setattr(BundledProvider, "fetch", full_disk)
    code, out, err = kit.run_cli(capsys, "run", "--phase", "night")
    assert code == 2 and err.strip().startswith("error: no space left writing") and len(err.strip().splitlines()) == 1
    assert not list(desk_home.glob("desk.sqlite*"))  # the next run starts clean, not from an empty schema


@pytest.mark.parametrize(("home_of", "said"), [
    (lambda tmp: tmp / ("x" * 300), "DESK_HOME has a folder name of 300 bytes, longer than the file system's 255"),
    (lambda tmp: tmp.joinpath(*["y" * 200] * 20), "bytes long: the file system's paths stop at 4096"),
])
def test_an_over_long_desk_home_is_one_clear_line_and_creates_nothing(tmp_path, capsys, monkeypatch, home_of,
                                                                      said) -> None:
    monkeypatch.setenv("DESK_HOME", str(home_of(tmp_path)))
    code, out, err = kit.run_cli(capsys, "status")
    [line] = err.strip().splitlines()
    assert code == 2 and said in line and line.endswith("choose a shorter DESK_HOME") and len(line) < 400
    assert list(tmp_path.iterdir()) == []
