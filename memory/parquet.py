"""Derived frames kept as Parquet files (the desk's caches): plain columnar data, never pickles.

``write_atomically`` writes to a unique temporary sibling and renames it into place, so a reader never sees half
a file and two writers never collide; if the write fails (a full disk) the temporary file is removed and the
OSError raised, for the caller to decide what a cache it could not write costs. A temporary file left by a writer
that was killed mid-write is named by its process id: the next write of the same file removes it once that process
is gone.
"""

from __future__ import annotations

import contextlib
import glob
import os
import uuid
from pathlib import Path

import pandas as pd


def write_atomically(frame: pd.DataFrame, path: Path) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(tmp)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
    _sweep(path)


def _sweep(path: Path) -> None:
    """Remove the temporary siblings of ``path`` whose writing process no longer runs."""
    with contextlib.suppress(OSError):
        for left in path.parent.glob(f".{glob.escape(path.name)}.*-*.tmp"):
            pid = left.name[len(path.name) + 2:].split("-", 1)[0]
            if pid.isdigit() and not _alive(int(pid)):
                with contextlib.suppress(OSError):
                    left.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists, owned by another user
        return True
    return True
