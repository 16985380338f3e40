"""Derived frames kept as Parquet files (the desk's caches): plain columnar data, never pickles.

``write_atomically`` writes to a unique temporary sibling and renames it into place, so a reader never sees half
a file and two writers never collide; if the write fails (a full disk) the temporary file is removed and the
OSError raised, for the caller to decide what a cache it could not write costs.
"""

from __future__ import annotations

import contextlib
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
