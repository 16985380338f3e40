"""Live updates: one thread reads the store's change stamp (``memory.board``) every ``tick`` seconds while a page
listens, and every open page's event stream (server-sent events) hears when it moves, with the time it was seen.
The pages then read the panels again; a page that loses the stream reconnects by itself (EventSource)."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

from desk.config import Settings

log = logging.getLogger("desk.dashboard.live")
TICK_S = 0.5
HEARTBEAT_S = 15.0


class Watcher:
    def __init__(self, settings: Settings, tick: float = TICK_S) -> None:
        self.settings, self.tick = settings, tick
        self.stamp: str | None = None
        self.seen: str | None = None  # when the stamp last moved (UTC ISO)
        self.error: str | None = None
        self.listeners = 0
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        from memory.board import change_stamp
        from memory.store import open_store

        store = None
        while not self._stop.is_set():
            with self._changed:
                if self.listeners == 0:  # nobody listens: read nothing until a page opens a stream
                    self._changed.wait(HEARTBEAT_S)
                    continue
            try:
                if store is None:
                    store = open_store(self.settings)
                stamp: str | None = change_stamp(store)
                error: str | None = None
            except Exception as exc:  # noqa: BLE001 - a store that cannot be read is shown on the page, not fatal
                stamp, error = self.stamp, f"cannot read the store: {exc}"
                if store is not None:
                    store.close()
                    store = None
            if stamp != self.stamp or error != self.error:
                with self._changed:
                    self.stamp, self.error = stamp, error
                    self.seen = datetime.now(UTC).isoformat(timespec="milliseconds")
                    self._changed.notify_all()
            self._stop.wait(self.tick)
        if store is not None:
            store.close()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="desk-dashboard-live", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._changed:
            self._changed.notify_all()

    def event(self) -> bytes:
        return f"data: {json.dumps({'stamp': self.stamp, 'seen': self.seen, 'error': self.error})}\n\n".encode()

    def stream(self) -> Stream:
        """One page's event stream, counted from now until it is closed (``MAX_STREAMS`` caps them)."""
        self.start()
        with self._changed:
            self.listeners += 1
            self._changed.notify_all()
        return Stream(self)

    def _left(self) -> None:
        with self._changed:
            self.listeners -= 1


class Stream:
    """An event now, then one each time the stamp moves, a comment every ``HEARTBEAT_S`` seconds so that a closed
    page is noticed (its write fails). ``close`` (the port calls it however the stream ended) stops counting it."""

    def __init__(self, watcher: Watcher) -> None:
        self.watcher = watcher
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        w = self.watcher
        yield b"retry: 2000\n\n"
        last = None
        while not w._stop.is_set() and not self.closed:
            with w._changed:
                if w.stamp == last:
                    w._changed.wait(HEARTBEAT_S)
                current = w.stamp
            if current is not None and current != last:
                last = current
                yield w.event()
            else:
                yield b": alive\n\n"

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.watcher._left()
