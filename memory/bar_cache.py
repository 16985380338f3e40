"""The store's wide bar frames (dates × symbols, one per bar field) cached as Parquet files beside it.

Reading 200 000 bars out of SQLite into a frame takes a few tenths of a second, and a desk run reads two fields.
The store stamps its bars with a revision (a new one in the same transaction as every write of bars), and a file
here is named by the revision it was read at: a write of bars makes every older file unreachable, and the next
file written for that field removes them. Files are plain columnar data written atomically (memory.parquet), so two processes never see half a file; a file that cannot be read
is derived data, so it is read again from the store and rewritten. Bars changed in the SQLite file by hand, not
through the store, carry no new revision: delete the folder and the next read rebuilds it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from memory.parquet import write_atomically

log = logging.getLogger("desk.store")


class BarCache:
    def __init__(self, directory: Path, stem: str) -> None:
        self.directory, self.stem = Path(directory), stem

    def _path(self, revision: str, field: str) -> Path:
        return self.directory / f"{self.stem}.{revision}.{field}.parquet"

    def read(self, revision: str, field: str) -> pd.DataFrame | None:
        path = self._path(revision, field)
        if not path.exists():
            return None
        try:
            return pd.read_parquet(path)
        except Exception as exc:  # noqa: BLE001 - a damaged cache file is derived data: read the store again
            log.warning("bar cache %s unreadable (%s): reading the store", path, exc)
            return None

    def write(self, revision: str, field: str, frame: pd.DataFrame) -> None:
        """Write ``frame`` for ``revision`` (atomically) and remove the files of older revisions of ``field``."""
        path = self._path(revision, field)
        try:
            write_atomically(frame, path)
            for old in self.directory.glob(f"{self.stem}.*.{field}.parquet"):
                if old != path:
                    old.unlink(missing_ok=True)
        except OSError as exc:  # costs speed, never a run, and no line in front of the user: a full disk is
            log.info("bar cache %s not written (%s)", path, exc)   # reported by the store write that needs the space
