"""What an LLM call can end in besides an answer. Each carries a one-line reason the fallback records."""

from __future__ import annotations

from graph.errors import DeskError
from vocab.contracts import Provenance


class LLMFailure(Exception):
    """The model gave no usable answer (HTTP error, timeout, refusal, empty or malformed output, budget spent).
    ``spent`` is the provenance of the call that failed, when one was made (its tokens and dollars were paid)."""

    def __init__(self, reason: str, spent: Provenance | None = None) -> None:
        super().__init__(reason)
        self.reason, self.spent = reason, spent


class BudgetSpent(LLMFailure):
    """``llm.max_usd_per_run`` or ``llm.max_usd_per_day`` would be exceeded: no call was made."""


class ReplayMiss(DeskError):
    """``llm.replay = only`` and the record has no exchange for this input: fails the run, never falls back (an
    eval served from the record must not quietly become a rules run)."""


class ProviderUnavailable(DeskError):
    """A configured provider that cannot start (no key, unknown model, no price): one line before the run."""
