"""A full disk (ARCHITECTURE.md: Quality): on the first run and in the middle of a run, one line saying which file and
what to do, exit 2, and nothing half-written: after space is freed the same command completes as if nothing happened."""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.sqlite_only]  # the home's disk fills under the SQLite store
ROOT = Path(__file__).resolve().parents[1]


def _tmpfs_allowed() -> bool:
    return os.geteuid() == 0 and shutil.which("mount") is not None


@contextmanager
def small_disk(tmp_path: Path, size: str):
    """A folder on a file system of ``size`` (a tmpfs, as root); resized with ``resize(size)``."""
    where = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    where.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], check=True)
    try:
        yield where, lambda new: subprocess.run(["mount", "-o", f"remount,size={new}", str(where)], check=True)
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _desk(home: Path, *args: str, file_limit: int | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESK_")}

    def limit() -> None:  # without a tmpfs: no file may grow past file_limit bytes (EFBIG, as a full disk)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_limit, file_limit))

    return subprocess.run([sys.executable, "-m", "desk.cli", *args], cwd=ROOT, env={**env, "DESK_HOME": str(home)},
                          capture_output=True, text=True, timeout=600,
                          preexec_fn=limit if file_limit is not None else None)


def _one_line(proc: subprocess.CompletedProcess) -> str:
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "free space" in lines[0] and "unexpected" not in lines[0], lines[0]
    return lines[0]


def test_a_full_disk_on_the_first_run_says_so_and_the_next_run_starts_clean(tmp_path):
    if _tmpfs_allowed():
        with small_disk(tmp_path, "6m") as (disk, resize):
            home = disk / "home"
            line = _one_line(_desk(home, "run", "--phase", "night"))
            assert str(home) in line
            assert not list(home.glob("desk.sqlite*"))  # no half-made store (and its WAL no longer fills the disk)
            resize("400m")
            again = _desk(home, "run", "--phase", "night", "--json")
            assert again.returncode == 0, again.stderr
    else:
        home = tmp_path / "home"
        _one_line(_desk(home, "run", "--phase", "night", file_limit=6_000_000))
        assert not list(home.glob("desk.sqlite*"))
        again = _desk(home, "run", "--phase", "night", "--json")
        assert again.returncode == 0, again.stderr


def _book(home: Path) -> list:
    import sqlite3

    conn = sqlite3.connect(home / "desk.sqlite")
    rows = sorted(conn.execute("SELECT symbol, round(quantity, 9), initial_stop, trail_pct, tiers_hit FROM positions"))
    conn.close()
    return rows


@pytest.mark.parametrize("slack", [150_000, 400_000, 900_000])  # full while the broker, the night, the checkpoint write
def test_a_disk_that_fills_during_a_run_is_one_line_and_a_rerun_completes(home, tmp_path, slack):
    reference = tmp_path / "reference"
    shutil.copytree(home, reference)
    assert _desk(reference, "run", "--date", "2017-03-02").returncode == 0
    used = sum(p.stat().st_size for p in home.rglob("*") if p.is_file())
    if _tmpfs_allowed():
        with small_disk(tmp_path, str(used + slack)) as (disk, resize):
            on_disk = disk / "home"
            shutil.copytree(home, on_disk)
            _one_line(_desk(on_disk, "run", "--date", "2017-03-02"))
            resize("400m")
            again = _desk(on_disk, "run", "--date", "2017-03-02")
            assert again.returncode == 0, again.stderr
            assert _book(on_disk) == _book(reference)
    else:
        biggest = max(p.stat().st_size for p in home.rglob("*") if p.is_file())
        first = _desk(home, "run", "--date", "2017-03-02", file_limit=biggest + slack)
        if first.returncode != 0:
            _one_line(first)
        again = _desk(home, "run", "--date", "2017-03-02")
        assert again.returncode == 0, again.stderr
        assert _book(home) == _book(reference)
