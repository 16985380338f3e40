"""Reporters hear every step. Reporting is off the critical path: a failing reporter never fails a run."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, Protocol

from langgraph.errors import GraphBubbleUp
from rich.text import Text

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
            self.console.print(Text.assemble((kind, "bold"), f" {as_of}  ", (run_id, "dim")))

    def step(self, run_id: str, node: str, status: str, started: str, ended: str, summary: str) -> None:
        if self.verbose:  # the summary is data (it may quote an operator's text): never markup
            mark = {"ok": ("✓", "green"), "warning": ("⚠", "yellow")}.get(status, ("✗", "red"))
            self.console.print(Text.assemble("  ", mark, f" {node:<16} {summary}"))

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
            except Exception as exc:  # noqa: BLE001 - reporting is off the critical path (ARCHITECTURE.md: invariant 7)
                log.warning("reporter %s.%s failed: %s", type(r).__name__, method, exc)

    def run_started(self, *args: Any) -> None:
        self._each("run_started", *args)

    def step(self, *args: Any) -> None:
        self._each("step", *args)

    def run_finished(self, *args: Any) -> None:
        self._each("run_finished", *args)


def reported(name: str, fn: Callable[..., dict]) -> Callable[..., dict]:
    """Wrap a node: report its start/end and the one-line ``summary`` it returns (popped from the update). A node
    that halted new entries (a book mismatch, a tripped breaker) also returns ``warning`` (popped too): its step is
    reported ``warning``, never a plain ``ok`` — the run goes on (exits still run), and ``desk run`` exits 4.

    LangGraph's control flow (``GraphBubbleUp``: an ``interrupt()`` pausing the run, a ``Command`` to a parent)
    passes untouched: it is not a failed step. A real failure is reported, its text scrubbed of secrets."""

    def node(state: dict, runtime: Any) -> dict:
        ctx = runtime.context
        started = now_utc()
        t0 = time.perf_counter()
        try:
            update = fn(state, runtime)
        except GraphBubbleUp:
            raise
        except Exception as exc:
            ctx.reporter.step(state.get("run_id", "?"), name, "error", started, now_utc(),
                              ctx.redact(f"{type(exc).__name__}: {exc}"))
            raise
        summary = update.pop("summary", "") if isinstance(update, dict) else ""
        warning = update.pop("warning", None) if isinstance(update, dict) else None
        ms = (time.perf_counter() - t0) * 1000
        ctx.reporter.step(state.get("run_id", "?"), name, "warning" if warning else "ok", started, now_utc(),
                          f"{summary} ({ms:.1f} ms)")
        return update

    node.__name__ = name
    return node


def run_task(store: Store, reporter: Reporter, kind: str, as_of: date, name: str, fn: Callable[[], str], *,
             refusals: tuple[type[BaseException], ...] = (), failures: tuple[type[BaseException], ...] = (),
             redact: Callable[[str], str] = lambda text: text) -> str:
    """Work outside a graph (loading data, training) recorded and reported like a one-node run.

    ``fn`` does the work and returns its one-line summary. The run is recorded when it ends, ``ok`` or ``error``,
    and a failure is re-raised. An exception in ``refusals`` (bad input: the work was refused and changed nothing)
    is re-raised without a record, so a refused request leaves the store as it was — unless it is also one of
    ``failures`` (a source that served nothing changed nothing, yet is a failure to see).
    """
    run_id = f"{kind}-{as_of.isoformat()}-{uuid.uuid4().hex[:6]}"
    reporter.run_started(run_id, kind, as_of.isoformat())
    started, t0 = now_utc(), time.perf_counter()
    try:
        summary = fn()
    except Exception as exc:
        if isinstance(exc, refusals) and not isinstance(exc, failures):
            raise
        why = redact(f"{type(exc).__name__}: {exc}")
        reporter.step(run_id, name, "error", started, now_utc(), why)
        store.start_run(run_id, kind, kind, as_of)
        store.finish_run(run_id, "error", {"error": why})
        reporter.run_finished(run_id, "error", why)
        raise
    reporter.step(run_id, name, "ok", started, now_utc(), f"{summary} ({(time.perf_counter() - t0) * 1000:.1f} ms)")
    store.start_run(run_id, kind, kind, as_of)
    store.finish_run(run_id, "ok", {"phase": kind, "summary": summary})
    reporter.run_finished(run_id, "ok", summary)
    return summary


def record_unrun(store: Store, reporter: Reporter, kind: str, as_of: date, status: str, why: str, *,
                 step: str = "refused") -> str:
    """A run that never ran its graph — refused, failed before it began, or a scheduled run that was skipped —
    recorded (``status``: ``error`` or ``skipped``, with ``why``) and reported like a failed one-step run, so it is
    in the store, in ``desk status`` and in Slack (ARCHITECTURE.md: invariant 9). Returns its run id."""
    run_id = f"{kind}-{as_of.isoformat()}-{uuid.uuid4().hex[:6]}"
    store.start_run(run_id, kind, kind, as_of)
    reporter.run_started(run_id, kind, as_of.isoformat())
    at = now_utc()
    reporter.step(run_id, step, "error", at, at, why)
    store.finish_run(run_id, status, {"phase": kind, "error": why})
    reporter.run_finished(run_id, status, why)
    return run_id
