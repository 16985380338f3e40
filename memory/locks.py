"""One writer at a time per home: a kernel lock on a file beside the store, released when its process dies.

``HomeLock(home, "book")`` guards the live book (a run of the night or the morning, a data load): a second process
that asks for it while it is held is refused at once with one line naming the holder. The lock is an ``flock`` on
``$DESK_HOME/locks/<name>.lock``: the kernel drops it when the holding process exits or is killed, so a kill never
leaves the desk locked (the file's text only says who held it last; its existence means nothing).
"""

from __future__ import annotations

import fcntl
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from memory.store import StoreError


class LockHeld(StoreError):
    """Another live process holds the lock."""


class HomeLock:
    def __init__(self, home: Path | str, name: str, what: str) -> None:
        self.path = Path(home) / "locks" / f"{name}.lock"
        self.name, self.what = name, what
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock now or raise LockHeld saying who has it."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(f"cannot take the lock {self.path} ({exc.strerror}): make DESK_HOME writable") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd)
            os.close(fd)
            raise LockHeld(f"another desk process is already {holder.get('what', 'working')} on this home "
                           f"(pid {holder.get('pid', '?')}, since {holder.get('since', '?')}); wait for it to "
                           f"finish and run again") from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "what": self.what,
                                 "since": datetime.now(UTC).isoformat(timespec="seconds")}).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> HomeLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def _read(fd: int) -> dict:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return json.loads(os.read(fd, 4096).decode() or "{}")
    except (OSError, ValueError):
        return {}
