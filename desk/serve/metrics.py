"""Prometheus metrics for ``/metrics``: what the store says at scrape time (so runs from any process count — the
scheduler's, Slack's, a `desk run` by hand) and what this process saw (scheduler decisions, Slack commands).

The book (``memory.watch``): equity, cash, gross exposure, positions, the day's and the total P&L (from inception:
``broker.initial_cash``), the drawdown from the peak — from the latest snapshot. The data's age in exchange sessions
against the calendar's last closed session now (``tools.freshness.as_of_now``), whether anything needs an operator
(``desk_attention``: what ``/health`` answers 503 for). The last successful run of each phase (a Unix time), the
scheduled runs that failed or were skipped by phase and class (``desk.serve.ledger``). LLM calls and dollars by real
provider from the LLM record (the rules provider sends none: its verdicts are ``desk_overlay_verdicts``). Step
durations from the steps table, orders from the orders table, errors from failed runs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)

from desk.config import Settings
from memory.outbox import Outbox
from memory.queries import Queries
from memory.schedule import ScheduleLog
from memory.store import Store
from memory.watch import Watch

BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0, float("inf"))


class StoreCollector:
    def __init__(self, open_store: Callable[[], Store], settings: Settings | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.open_store, self.settings, self.clock = open_store, settings, clock

    def collect(self):
        store = self.open_store()
        try:
            q = Queries(store)
            runs = CounterMetricFamily("desk_runs", "Runs recorded, by kind and how they ended", labels=["kind", "status"])
            errors = CounterMetricFamily("desk_errors", "Runs that failed")
            failed = 0
            for kind, status, n in q.run_counts():
                runs.add_metric([kind, status], n)
                failed += n if status == "error" else 0
            errors.add_metric([], failed)
            yield runs
            yield errors
            yield _histogram(q.step_durations())
            orders = CounterMetricFamily("desk_orders", "Orders sent to the broker", labels=["side", "status"])
            for side, status, n in q.order_counts():
                orders.add_metric([side, status], n)
            yield orders
            verdicts = CounterMetricFamily("desk_overlay_verdicts", "Overlay verdicts by provider (rules included)",
                                           labels=["provider", "fallback"])
            tokens = CounterMetricFamily("desk_llm_tokens", "Tokens the providers reported", labels=["provider"])
            per: dict[str, float] = {}
            for provider, fallback, n, tok, _ in q.llm_calls():
                verdicts.add_metric([provider, str(bool(fallback)).lower()], n)
                per[provider] = per.get(provider, 0.0) + tok
            for provider, t in per.items():
                tokens.add_metric([provider], t)
            yield verdicts
            yield tokens
            calls = CounterMetricFamily("desk_llm_calls", "Calls to a real LLM provider, by how they ended (served "
                                        "from the record, skipped by the budget: no cost)",
                                        labels=["provider", "status"])
            cost = CounterMetricFamily("desk_llm_cost_usd", "US dollars the LLM providers charged", labels=["provider"])
            usd: dict[str, float] = {}
            for use in Watch(store).llm_use():
                calls.add_metric([use.provider, use.status], use.calls)
                usd[use.provider] = usd.get(use.provider, 0.0) + use.cost_usd
            for provider, c in usd.items():
                cost.add_metric([provider], c)
            yield calls
            yield cost
            yield from self._desk(store)
            state = store.desk_state()
            yield GaugeMetricFamily("desk_halted", "1 while an operator's halt blocks new entries",
                                    value=int(bool(state.halted)))
            yield GaugeMetricFamily("desk_breakers", "Circuit breakers on record", value=len(store.breakers()))
            depth = GaugeMetricFamily("desk_outbox_depth", "Slack messages in the outbox", labels=["status"])
            for status, n in Outbox(store).depth().items():
                depth.add_metric([status], n)
            yield depth
            paused = GaugeMetricFamily("desk_paused_runs", "Runs waiting for an operator")
            paused.add_metric([], sum(n for _, status, n in q.run_counts() if status == "paused"))
            yield paused
        finally:
            store.close()


    def _desk(self, store: Store):
        """The book, the data's age, the last good runs, the scheduler's failures, and the alerts."""
        watch = Watch(store)
        last_ok = GaugeMetricFamily("desk_last_success_timestamp_seconds", "When the latest successful run of each "
                                    "phase ended (Unix time)", labels=["phase"])
        for kind, ended in sorted(watch.last_ok().items()):
            last_ok.add_metric([kind], datetime.fromisoformat(ended).timestamp())
        yield last_ok
        failures = CounterMetricFamily("desk_scheduled_failures", "Scheduled runs that failed or were skipped, by "
                                       "phase and class (stale_data, refused, error, missed, busy)",
                                       labels=["phase", "reason"])
        for phase, failure, n in ScheduleLog(store).failures():
            failures.add_metric([phase, failure or "error"], n)
        yield failures
        if self.settings is None or self.clock is None:
            return
        from desk.alerts import alerts

        found = alerts(store, self.settings, self.clock())
        yield GaugeMetricFamily("desk_data_age_sessions", "Exchange sessions between the data's last bar and the "
                                "calendar's last closed session (-1: no data)",
                                value=-1 if found.freshness.age_sessions is None else found.freshness.age_sessions)
        yield GaugeMetricFamily("desk_data_max_age_sessions", "data.max_age_sessions: older data opens no position",
                                value=found.freshness.limit)
        yield GaugeMetricFamily("desk_attention", "1 while something needs an operator (/health answers 503)",
                                value=int(not found.ok))
        book = watch.book(self.settings.broker.initial_cash)
        if book is None:
            return
        for name, text, value in (
                ("desk_equity", "The book's equity at its latest snapshot", book.equity),
                ("desk_cash", "Cash at the latest snapshot", book.cash),
                ("desk_gross_exposure", "The holdings' gross value at the latest snapshot", book.gross_exposure),
                ("desk_positions", "Holdings in the book", book.positions),
                ("desk_total_pnl", "Equity less the initial cash (P&L from inception)", book.total_pnl),
                ("desk_total_return", "Equity over the initial cash, less 1", book.total_return),
                ("desk_peak_equity", "The highest equity on record (the initial cash included)", book.peak_equity),
                ("desk_drawdown", "The share of equity below its peak (0 at a peak)", book.drawdown),
                ("desk_book_session_timestamp_seconds", "The latest snapshot's session (its midnight UTC, Unix time)",
                 datetime.combine(book.as_of, time(0), tzinfo=UTC).timestamp())):
            yield GaugeMetricFamily(name, text, value=value)
        if book.day_pnl is not None:
            yield GaugeMetricFamily("desk_day_pnl", "Equity change since the previous snapshot", value=book.day_pnl)


def _histogram(durations: list[tuple[str, float]]) -> HistogramMetricFamily:
    h = HistogramMetricFamily("desk_step_duration_seconds", "How long each graph node took", labels=["node"])
    by_node: dict[str, list[float]] = {}
    for node, s in durations:
        by_node.setdefault(node, []).append(max(0.0, s))
    for node, values in sorted(by_node.items()):
        buckets = [(str(b) if b != float("inf") else "+Inf", sum(v <= b for v in values)) for b in BUCKETS]
        h.add_metric([node], buckets, sum(values))
    return h


class Metrics:
    """The registry ``/metrics`` serves: the store's figures and this process's counters."""

    def __init__(self, open_store: Callable[[], Store], settings: Settings | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(StoreCollector(open_store, settings, clock))
        self.fires = Counter("desk_schedule_fires", "Scheduler triggers and what they decided",
                             ["phase", "action"], registry=self.registry)
        self.commands = Counter("desk_slack_commands", "Slack commands handled", ["command", "outcome"],
                                registry=self.registry)

    def render(self) -> bytes:
        return generate_latest(self.registry)
