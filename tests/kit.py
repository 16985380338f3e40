"""Test kit: run the CLI in-process, fingerprint a store, seed a loaded DESK_HOME once per session."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import sys
from pathlib import Path

import pytest

TABLES = ("bars", "symbols", "runs", "steps", "proposals", "verdicts", "picks", "intents", "orders", "fills",
          "positions", "snapshots", "audit", "desk_state", "meta")


def run_cli(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    """Invoke `desk ARGS` in-process through the real entry point; return (exit code, stdout, stderr)."""
    from desk.cli import main

    old = sys.argv
    sys.argv = ["desk", *args]
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        sys.argv = old
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def store_fingerprint(path: Path) -> str:
    """A digest of every row of every table (insensitive to WAL/page layout)."""
    if not path.exists():
        return "absent"
    conn = sqlite3.connect(str(path))
    h = hashlib.sha256()
    for t in TABLES:
        try:
            rows = conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() if t != "desk_state" else \
                conn.execute("SELECT * FROM desk_state").fetchall()
        except sqlite3.OperationalError:
            rows = []
        h.update(t.encode())
        h.update(json.dumps(rows, default=str).encode())
    conn.close()
    return h.hexdigest()


def clone_home(seed: Path, dest: Path) -> Path:
    shutil.copytree(seed, dest)
    return dest
