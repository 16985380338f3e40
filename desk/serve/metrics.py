"""Prometheus metrics for ``/metrics``: what the store says at scrape time (so runs from any process count — the
scheduler's, Slack's, a `desk run` by hand) and what this process saw (scheduler decisions, Slack commands).

Step durations come from the steps table, LLM calls, tokens and cost from the verdicts' provenance (a provider that
reports no cost counts 0), orders from the orders table, errors from failed runs.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from memory.outbox import Outbox
from memory.queries import Queries
from memory.store import Store

BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0, float("inf"))


class StoreCollector:
    def __init__(self, open_store: Callable[[], Store]) -> None:
        self.open_store = open_store

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
            calls = CounterMetricFamily("desk_llm_calls", "Overlay verdicts by provider", labels=["provider", "fallback"])
            tokens = CounterMetricFamily("desk_llm_tokens", "Tokens the providers reported", labels=["provider"])
            cost = CounterMetricFamily("desk_llm_cost_usd", "Cost the providers reported", labels=["provider"])
            per: dict[str, tuple[float, float]] = {}
            for provider, fallback, n, tok, usd in q.llm_calls():
                calls.add_metric([provider, str(bool(fallback)).lower()], n)
                t, c = per.get(provider, (0.0, 0.0))
                per[provider] = (t + tok, c + usd)
            for provider, (t, c) in per.items():
                tokens.add_metric([provider], t)
                cost.add_metric([provider], c)
            yield calls
            yield tokens
            yield cost
            state = store.desk_state()
            yield GaugeMetricFamily("desk_halted", "1 while an operator's halt blocks new entries",
                                    value=int(bool(state["halted"])))
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

    def __init__(self, open_store: Callable[[], Store]) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(StoreCollector(open_store))
        self.fires = Counter("desk_schedule_fires", "Scheduler triggers and what they decided",
                             ["phase", "action"], registry=self.registry)
        self.commands = Counter("desk_slack_commands", "Slack commands handled", ["command", "outcome"],
                                registry=self.registry)

    def render(self) -> bytes:
        return generate_latest(self.registry)
