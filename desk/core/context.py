"""What a command is handed besides its arguments: the settings, who asked and where, the reporters a run started
from here reports to, how to show progress, and the store (opened on first use, closed by the core)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from desk.actor import Actor
from desk.config import Settings

if TYPE_CHECKING:
    from graph.reporting import Reporter
    from memory.store import Store

Progress = Callable[[Any], None]


def quiet(_: Any) -> None:
    """No progress shown."""


@dataclass
class CommandContext:
    settings: Settings
    actor: Actor
    channel: str | None = None
    reporters: Sequence[Reporter] = ()
    progress: Progress = quiet
    now: datetime | None = None  # the wall clock a live night is measured against (None: the real one)
    on_begin: Callable[[CommandContext, str], None] | None = field(default=None, repr=False)
    begun: bool = False
    _store: Store | None = field(default=None, repr=False)

    def begin(self, target: str) -> None:
        """A job's checks passed and its effects start now: the core audits it here, once (bad input, refused
        before this, changes nothing)."""
        if not self.begun and self.on_begin is not None:
            self.on_begin(self, target)
        self.begun = True

    def decline(self) -> None:
        """A job that found nothing to do (a run key already done, waiting, or busy elsewhere): not audited."""
        self.begun = True

    @property
    def store(self) -> Store:
        if self._store is None:
            from memory.store import open_store

            self._store = open_store(self.settings)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
