"""The Slack reporter: one parent message per run, each step a reply in its thread, the parent updated with the final
summary — all written to the store's outbox and delivered later by the sender (``desk.slack.sender``), so a run
never waits for Slack and never fails because of it (ARCHITECTURE.md: invariant 7).

Levels per message kind (``slack.levels``): ``on`` posts and shows it in the channel (a thread reply is broadcast),
``silent`` posts in the run's thread only, ``off`` sends nothing. Failed steps and runs also go to
``slack.errors_channel``. Every message passes the redactor: no secret reaches Slack.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from desk.slack import format as fmt
from graph.config import SlackSettings
from graph.redact import Redactor
from memory.outbox import UPDATE, Outbox
from memory.overrides import Overrides
from memory.store import Store
from memory.watch import Watch

log = logging.getLogger("desk.slack")
Facts = Callable[[str], Mapping[str, Any]]  # run_id -> the run's final state values (regime, intents, results…)


def parent_key(run_id: str) -> str:
    return f"run:{run_id}"


def approval_key(run_id: str) -> str:
    return f"approval:{run_id}"


def scrub(value: Any, redact: Redactor) -> Any:
    """Every string in a payload through the redactor."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [scrub(v, redact) for v in value]
    if isinstance(value, dict):
        return {k: scrub(v, redact) for k, v in value.items()}
    return value


# the steps whose reply says what the run decided (the others are in the store, and in the thread with all_steps)
DECIDING = frozenset({"weather", "overlay", "exits", "hard_rules", "write_intents", "check_book", "validate",
                      "approval", "execute", "reconcile"})


def decided(node: str, summary: str) -> bool:
    """Whether a step that went well decided something worth its line in the thread."""
    said = summary.strip().lower()
    return node in DECIDING and not said.startswith(("no ", "nothing", "0 "))


def fill_line(r: Any, pnl: float | None = None) -> str:
    """One fill of the morning: side, quantity, symbol, price (and where the price came from); a sell's realized
    P&L against the holding's average cost, after its commission."""
    source = f" ({r.price_source})" if getattr(r, "price_source", None) else ""
    price = "?" if r.price is None else f"{r.price:,.2f}"
    made = "" if pnl is None else f", P&L {pnl:+,.2f}"
    return f"{r.side} {r.quantity:g} {r.symbol} @ {price}{source}{made}"


class SlackOutbox:
    """Writes Slack messages to the outbox at the configured level, scrubbed of secrets."""

    def __init__(self, store: Store, slack: SlackSettings, redact: Redactor) -> None:
        self.outbox = Outbox(store)
        self.slack = slack
        self.redact = redact

    def post(self, kind: str, payload: Mapping[str, Any], *, key: str | None = None, thread: str | None = None,
             run_id: str | None = None, channel: str | None = None) -> bool:
        level = self.slack.levels.get(kind, "on")
        if level == "off" or not (channel or self.slack.channel):
            return False
        if thread is not None and not self.outbox.has(thread):
            thread = None  # its parent was never written (its kind is off): a message of its own
        return self.outbox.enqueue(kind=kind, channel=channel or self.slack.channel, key=key, thread_key=thread,
                                   run_id=run_id, broadcast=thread is not None and level == "on",
                                   payload=scrub(dict(payload), self.redact))

    def update(self, kind: str, target: str, payload: Mapping[str, Any], run_id: str | None = None) -> bool:
        if not self.outbox.has(target):
            return False
        return self.outbox.enqueue(kind=kind, channel=self.slack.channel or "", op=UPDATE, key=f"{target}:update",
                                   target_key=target, run_id=run_id, replace=True,
                                   payload=scrub(dict(payload), self.redact))

    def error(self, payload: Mapping[str, Any], run_id: str | None = None) -> None:
        if self.slack.errors_channel and self.slack.errors_channel != self.slack.channel:
            self.post("error", payload, run_id=run_id, channel=self.slack.errors_channel)


class SlackReporter:
    """A ``graph.reporting.Reporter`` that writes to the outbox (a store insert per message: no network)."""

    def __init__(self, store: Store, slack: SlackSettings, redact: Redactor, facts: Facts | None = None) -> None:
        self.store = store
        self.out = SlackOutbox(store, slack, redact)
        self.facts = facts
        self._runs: dict[str, tuple[str, str]] = {}

    def run_started(self, run_id: str, kind: str, as_of: str) -> None:
        self._runs[run_id] = (kind, as_of)
        key = parent_key(run_id)
        if self.out.outbox.has(key):  # a paused or interrupted run resumed: say so in its thread
            self.out.post("step", fmt.note(f"▶ {run_id} resumed"), thread=key, run_id=run_id)
            self.out.update("run", key, fmt.run_parent(run_id, kind, as_of, "running"), run_id)
            return
        self.out.post("run", fmt.run_parent(run_id, kind, as_of, "running"), key=key, run_id=run_id)

    def step(self, run_id: str, node: str, status: str, started: str, ended: str, summary: str) -> None:
        failed = status not in ("ok", "warning")
        warnings = [] if failed else self._warnings(run_id, node)
        kind = "error" if failed else ("warning" if warnings or status == "warning" else "step")
        if kind == "step" and not self.out.slack.all_steps and not decided(node, summary):
            return  # nothing decided here: the thread stays short (slack.all_steps posts every step)
        payload = fmt.step(run_id, node, status, summary, warnings, started, ended, self.out.slack.timezone)
        self.out.post(kind, payload, thread=parent_key(run_id), run_id=run_id)
        if failed:
            self.out.error(fmt.failure(run_id, node, summary), run_id)

    def run_finished(self, run_id: str, status: str, summary: str) -> None:
        kind, as_of = self._runs.pop(run_id, None) or self._kind_of(run_id)
        lines = self._final_lines(run_id, kind, status, summary)
        self.out.update("run", parent_key(run_id), fmt.run_parent(run_id, kind, as_of, status, lines), run_id)
        if not self.out.outbox.has(parent_key(run_id)):
            self.out.post("run", fmt.run_parent(run_id, kind, as_of, status, lines), key=parent_key(run_id),
                          run_id=run_id)
        if status == "error":
            self.out.post("error", fmt.failure(run_id, "the run", summary), thread=parent_key(run_id), run_id=run_id)
            self.out.error(fmt.failure(run_id, "the run", summary), run_id)
        asked = Overrides(self.store).approval(run_id)
        if asked is not None and status == "paused":
            self.out.post("approval", fmt.approval_request(asked, self.out.slack.timezone), key=approval_key(run_id), run_id=run_id)
        elif asked is not None and asked.decision:
            self.out.update("approval", approval_key(run_id), fmt.approval_decided(asked, self.out.slack.timezone), run_id)

    # ------------------------------------------------------------------ what the messages say
    def _kind_of(self, run_id: str) -> tuple[str, str]:
        row = self.store.run(run_id)
        return (row.kind, row.as_of.isoformat()) if row else ("run", "?")

    def _warnings(self, run_id: str, node: str) -> list[str]:
        """What an operator should notice after a step, read from the store (never parsed from its text)."""
        try:
            if node in ("ingest", "validate_data"):
                return [f"{s.symbol} is stale: {s.note or 'flagged by the loader'}"
                        for s in self.store.symbols() if s.stale]
            if node in ("validate", "approval", "execute"):
                row = self.store.run(run_id)
                if row is None:
                    return []
                return [f"{i.symbol} {i.side} {i.status}: {i.status_reason}"
                        for i in self.store.intents(as_of=row.as_of)
                        if i.status in ("skipped", "vetoed", "rejected", "cancelled")]
            if node == "reconcile":
                return [f"circuit breaker {b.name} (tripped {b.tripped}): {b.reason}"
                        for b in self.store.breakers()]
        except Exception as exc:  # noqa: BLE001 - an enricher fails open: the step is reported without its warnings
            log.warning("could not read the warnings of %s/%s: %s", run_id, node, exc)
        return []

    def _final_lines(self, run_id: str, kind: str, status: str, summary: str) -> list[str]:
        lines = [summary] if summary and status != "ok" else []
        if self.facts is None or status == "error":
            return lines
        try:
            v = self.facts(run_id)
        except Exception as exc:  # noqa: BLE001 - fails open: the parent still says how the run ended
            log.warning("could not read the final state of %s: %s", run_id, exc)
            return lines
        if kind == "night":
            intents = v.get("intents") or []
            lines.append(f"regime {v.get('regime', '?')}; {sum(i.side == 'buy' for i in intents)} entries, "
                         f"{sum(i.side == 'sell' for i in intents)} exits")
            lines += [f"{i.side} {i.quantity:g} {i.symbol} ({i.target_weight:.1%})" for i in intents[:20]]
        elif kind == "morning":
            res = v.get("results") or []
            counts = {}
            for r in res:
                counts[r.status] = counts.get(r.status, 0) + 1
            lines.append(", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no orders")
            watch = Watch(self.store)
            lines += [fill_line(r, watch.trade_pnl(r.client_order_id) if r.side == "sell" and r.client_order_id
                                else None) for r in res if r.status == "filled"][:40]
            if v.get("equity") is not None:
                lines.append(f"book {v['equity']:,.2f} (cash {v.get('cash') or 0:,.2f})")
        return lines


class SlackEcho:
    """Hears every override (a ``desk.core.core.Core`` listener) and echoes it to the channel, whichever door it
    came through."""

    def __init__(self, store_path, slack: SlackSettings, redact: Redactor) -> None:
        self.store_path, self.slack, self.redact = store_path, slack, redact

    def __call__(self, result) -> None:
        store = Store(self.store_path)
        try:
            SlackOutbox(store, self.slack, self.redact).post("override", fmt.override_echo(result, self.slack.timezone))
        finally:
            store.close()
