"""What a call costs, from the per-model price table in settings, and whether the caps let it be made."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from graph.config import LLMSettings, Price, ResolvedRole
from graph.providers.llm.errors import BudgetSpent
from memory.store import Store

CHARS_PER_TOKEN = 3.0  # a conservative estimate (English text and JSON run nearer 4): it over-counts, never under
PER_MESSAGE_TOKENS = 50


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total(self) -> int:
        return self.input_tokens + self.output_tokens


def cost(price: Price, usage: Usage) -> float:
    return (usage.input_tokens * price.input_usd_per_mtok + usage.output_tokens * price.output_usd_per_mtok) / 1e6


def worst_case(price: Price, prompt: str, role: ResolvedRole) -> float:
    """The most a call with this prompt can cost: its estimated input and every output token it may write."""
    estimate = Usage(int(len(prompt) / CHARS_PER_TOKEN) + PER_MESSAGE_TOKENS, role.max_tokens)
    return cost(price, estimate)


def day_start() -> str:
    """Midnight UTC today, as the store writes timestamps: the start of "today's spend"."""
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0).isoformat(timespec="milliseconds")


def check_budget(store: Store, settings: LLMSettings, run_id: str | None, up_to: float) -> None:
    """Raise BudgetSpent when a call that may cost ``up_to`` would take this run's or today's spend past its cap."""
    if run_id is not None:
        _, run = store.llm_spend(run_id=run_id)
        if run + up_to > settings.max_usd_per_run:
            raise BudgetSpent(f"budget: llm.max_usd_per_run ${settings.max_usd_per_run:.2f} would be exceeded "
                              f"(${run:.4f} spent this run, this call up to ${up_to:.4f}); no call made")
    _, today = store.llm_spend(since=day_start())
    if today + up_to > settings.max_usd_per_day:
        raise BudgetSpent(f"budget: llm.max_usd_per_day ${settings.max_usd_per_day:.2f} would be exceeded "
                          f"(${today:.4f} spent today UTC, this call up to ${up_to:.4f}); no call made")
