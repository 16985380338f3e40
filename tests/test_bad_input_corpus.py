"""The bad-input corpus (tests/bad_inputs.toml): every row gets one line on stderr, exit code 2, no traceback, and
leaves everything in DESK_HOME as it was."""

from __future__ import annotations

import glob
import os
import sqlite3
import subprocess
import threading
import tomllib
from contextlib import contextmanager
from pathlib import Path

import pytest

from datetime import date

from tests import kit
from tests.kit import run_cli

CORPUS = tomllib.loads((Path(__file__).parent / "bad_inputs.toml").read_text())["case"]
DAY = "2018-09-04"  # its block's GARCH model is promoted (by a significant margin): a run reads it


@pytest.fixture(scope="session")
def ran_home(seeded_home, tmp_path_factory) -> Path:
    """The seeded home after one night and morning: models, checkpoints and the paper broker's book exist."""
    home = kit.clone_home(seeded_home, tmp_path_factory.mktemp("ran") / "home")
    d = kit.desk(home, checkpointing=True)
    d.night(date.fromisoformat(DAY))
    d.morning(date.fromisoformat(DAY))
    return home


def _damage(home: Path, target: str, how: str) -> None:
    [path] = [Path(p) for p in glob.glob(str(home / target))][:1] or [home / target]
    if path.suffix == ".sqlite":  # the file holds everything it has written (nothing waits in its WAL)
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
    if how == "truncate":
        data = path.read_bytes()
        path.write_bytes(data[: max(100, len(data) // 3)])
    elif how == "zero":
        path.write_bytes(b"\0" * path.stat().st_size)
    elif how == "text":
        path.write_text("these are not the bars you are looking for\n" * 50)
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "garbage":
        path.write_bytes(b"\x89garbage{{{not what was saved")
    elif how.startswith(("drop_table:", "schema:")):
        conn = sqlite3.connect(path)
        arg = how.split(":", 1)[1]
        conn.execute(f"DROP TABLE {arg}" if how.startswith("drop") else
                     f"UPDATE meta SET value='{arg}' WHERE key='schema_version'")
        conn.commit()
        conn.close()
    else:
        raise ValueError(f"unknown damage {how!r}")
    for side in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        side.unlink(missing_ok=True)


@contextmanager
def _write_locked(path: Path):
    """Another process's connection holds a write transaction on ``path`` for the duration."""
    ready, done = threading.Event(), threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("BEGIN IMMEDIATE")
        ready.set()
        done.wait(60)
        conn.execute("ROLLBACK")
        conn.close()

    t = threading.Thread(target=hold, daemon=True)
    t.start()
    ready.wait(10)
    try:
        yield
    finally:
        done.set()
        t.join(10)


@contextmanager
def _immutable(path: Path):
    """``path`` cannot be opened for writing, even by root (chattr +i), for the duration."""
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(path)], check=True)
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)
    else:
        mode = path.stat().st_mode
        path.chmod(0o444)
        try:
            yield
        finally:
            path.chmod(mode)


def _on_sqlite_file(case: dict) -> bool:
    """A case about the SQLite store or checkpoint file itself (damaged, read-only, locked)."""
    files = [case.get("damage", {}).get("file"), case.get("readonly"), case.get("locked")]
    return any(f in ("desk.sqlite", "checkpoints.sqlite") for f in files)


@pytest.mark.parametrize("case", [pytest.param(c, marks=[pytest.mark.sqlite_only] if _on_sqlite_file(c) else [])
                                  for c in CORPUS], ids=[c["id"] for c in CORPUS])
def test_bad_input_gets_one_line_exit_2_and_changes_nothing(case, home, ran_home, on_backend, tmp_path, capsys,
                                                            monkeypatch):
    if case.get("home") == "ran":
        home = on_backend(kit.clone_home(ran_home, tmp_path / "ran-home"), ran_home)
        monkeypatch.setenv("DESK_HOME", str(home))
    csv = tmp_path / "acme.csv"
    if "csv" in case:
        csv.write_text(case["csv"], encoding="utf-8")
    if "toml" in case:
        (tmp_path / "desk.toml").write_text(case["toml"])
    for key in ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY", "APCA_SECRETS_FILE"):  # a developer's own keys
        monkeypatch.delenv(key, raising=False)
    for key, value in case.get("env", {}).items():
        monkeypatch.setenv(key, value)
    if "damage" in case:
        _damage(home, case["damage"]["file"], case["damage"]["how"])
    before = kit.home_fingerprint(home)
    args = [a.replace("{csv}", str(csv)).replace("{home}", str(home)) for a in case["args"]]
    with (_write_locked(home / case["locked"]) if "locked" in case else _nothing()), \
            (_immutable(home / case["readonly"]) if "readonly" in case else _nothing()):
        code, out, err = run_cli(capsys, *args)
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert code == 2, (code, out, err)
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err + out and "error: unexpected" not in err
    assert case["expect"] in lines[0], lines[0]
    assert kit.home_fingerprint(home) == before


@contextmanager
def _nothing():
    yield
