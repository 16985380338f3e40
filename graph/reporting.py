"""Reporters hear every step. Reporting is off the critical path: a failing reporter never fails a run."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from memory.store import Store, now_utc

log = logging.getLogger("desk.report")


class Reporter(Protocol):
    def run_started(self, run_id: str, kind: str, as_of: str) -> None: ...
    def step(self, run_id: str, node: str, status: str, started: str, ended: str, summary: str) -> None: ...
    def run_finished(self, run_id: str, status: str, summary: str) -> None: ...


class StoreReporter:
    """Every step into the store's steps table, written in one batch when the run ends (ok or not)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._pending: list[tuple[str, str, str, str, str, str]] = []

    def run_started(self, run_id: str, kind: str, as_of: str) -> None:
        self._pending.clear()

    def step(self, run_id: str, node: str, status: str, started: str, ended: str, summary: str) -> None:
        self._pending.append((run_id, node, status, started, ended, summary))

    def run_finished(self, run_id: str, status: str, summary: str) -> None:
        rows, self._pending = self._pending, []
        self.store.record_steps(rows)


class ConsoleReporter:
    """One line per step on a rich console (quiet in replays)."""

    def __init__(self, console: Any, verbose: bool = True) -> None:
        self.console = console
        self.verbose = verbose

    def run_started(self, run_id: str, kind: str, as_of: str) -> None:
        if self.verbose:
            self.console.print(f"[bold]{kind}[/] {as_of}  [dim]{run_id}[/]")

    def step(self, run_id: str, node: str, status: str, started: str, ended: str, summary: str) -> None:
        if self.verbose:
            mark = "[green]✓[/]" if status == "ok" else "[red]✗[/]"
            self.console.print(f"  {mark} {node:<16} {summary}", highlight=False)

    def run_finished(self, run_id: str, status: str, summary: str) -> None:
        pass


class Fanout:
    """Sends each report to every reporter; a reporter that fails is logged and skipped."""

    def __init__(self, reporters: Sequence[Reporter]) -> None:
        self.reporters = list(reporters)

    def _each(self, method: str, *args: Any) -> None:
        for r in self.reporters:
            try:
                getattr(r, method)(*args)
            except Exception as exc:  # reporting is off the critical path (DESIGN §5.7)
                log.warning("reporter %s.%s failed: %s", type(r).__name__, method, exc)

    def run_started(self, *args: Any) -> None:
        self._each("run_started", *args)

    def step(self, *args: Any) -> None:
        self._each("step", *args)

    def run_finished(self, *args: Any) -> None:
        self._each("run_finished", *args)


def reported(name: str, fn: Callable[..., dict]) -> Callable[..., dict]:
    """Wrap a node: report its start/end and the one-line ``summary`` it returns (popped from the update)."""

    def node(state: dict, runtime: Any) -> dict:
        ctx = runtime.context
        started = now_utc()
        t0 = time.perf_counter()
        try:
            update = fn(state, runtime)
        except Exception as exc:
            ctx.reporter.step(state.get("run_id", "?"), name, "error", started, now_utc(), f"{type(exc).__name__}: {exc}")
            raise
        summary = update.pop("summary", "") if isinstance(update, dict) else ""
        ms = (time.perf_counter() - t0) * 1000
        ctx.reporter.step(state.get("run_id", "?"), name, "ok", started, now_utc(), f"{summary} ({ms:.1f} ms)")
        return update

    node.__name__ = name
    return node
