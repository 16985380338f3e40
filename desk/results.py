"""What each command returns: typed results that the CLI (and later Slack) only format, and ``Actor``, who asked."""

from __future__ import annotations

import getpass
import os
from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from vocab.contracts import Denial, SizingFactor, Verdict


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Actor(_Result):
    """Who asked for a mutating command, and from where; written to the audit log with the action."""

    who: str = Field(min_length=1)
    via: str = Field(min_length=1, description="cli, slack, scheduler, …")

    @classmethod
    def local(cls) -> Actor:
        """The user running the command line."""
        try:
            who = getpass.getuser()
        except (KeyError, OSError):  # a container user with no passwd entry
            who = f"uid{os.getuid()}"
        return cls(who=who, via="cli")

    def __str__(self) -> str:
        return f"{self.via}:{self.who}"


class BreakerInfo(_Result):
    name: str
    tripped: str
    sessions: int
    reason: str


class PositionInfo(_Result):
    quantity: float
    avg_price: float
    stop: float


class RunInfo(_Result):
    run_id: str
    kind: str
    as_of: str
    status: str


class StatusResult(_Result):
    halted: bool
    halt_reason: str | None
    halted_since: str | None
    data_until: str | None
    breakers: list[BreakerInfo]
    symbols: int
    stale: list[str]
    positions: dict[str, PositionInfo]
    equity: float | None
    cash: float | None
    as_of: str | None
    last_runs: list[RunInfo]
    llm_calls_today: int = 0
    llm_usd_today: float = 0.0
    llm_usd_cap_day: float | None = None
    alerts: list[str] = []  # what needs an operator now (desk.alerts: the reasons /health answers 503 for)
    data_age_sessions: int | None = None  # the data's age against the calendar's last closed session now
    data_reference: str | None = None  # that session

    @property
    def headline(self) -> str:
        """The first line: HALTED, ATTENTION with the first reason, or running — never "running" while something
        (a breaker, stale data, a failed scheduled run) needs an operator."""
        if self.halted:
            return f"HALTED — {self.halt_reason} (since {self.halted_since})"
        if self.alerts:
            more = f" (+{len(self.alerts) - 1} more below)" if len(self.alerts) > 1 else ""
            return f"ATTENTION — {self.alerts[0]}{more}"
        return "running: new entries allowed"

    @property
    def data_age(self) -> str:
        """`` (N sessions behind D)`` — the data's age against the calendar's last closed session — or nothing."""
        if self.data_reference is None:
            return ""
        if self.data_age_sessions is None:
            return f" (no data; the last closed session is {self.data_reference})"
        n = self.data_age_sessions
        return f" ({n} session{'' if n == 1 else 's'} behind {self.data_reference})"


class OrderInfo(_Result):
    client_order_id: str
    status: str
    session: str
    quantity: float


class FillInfo(_Result):
    quantity: float
    price: float
    commission: float
    session: str
    price_source: str


class NotEntered(_Result):
    """A night the symbol was a selected pick and was not bought: the rules that denied it."""

    as_of: date
    score: float
    denials: list[Denial]


class WhyResult(_Result):
    intent_id: str
    as_of: date
    symbol: str
    side: str
    kind: str
    quantity: float
    status: str
    status_reason: str | None
    reasons: list[str]
    models: list[str] = Field(description="agent: action by model version, for each proposal behind it")
    sizing: list[SizingFactor]
    tier: str | None = Field(None, description="the sizing cascade's tier (FULL_RL, BLENDED, PURE_KELLY, ...)")
    gates: list[str] = Field(default_factory=list, description="each gate of the tier choice and how it went")
    track: str = "main"
    verdicts: list[Verdict]
    denials: list[Denial]
    orders: list[OrderInfo]
    fills: list[FillInfo]
    not_entered: NotEntered | None = Field(None, description="the latest night after this intent on which the "
                                                             "symbol was a selected pick and was not bought, and why")


class HaltResult(_Result):
    halted: bool
    reason: str | None = None
    breakers_cleared: int = 0


class DataLoadResult(_Result):
    source: str
    written: dict[str, int]
    rejected: dict[str, str]
    note: str | None
    until: date | None


class AskResult(_Result):
    question: str
    answer: str
    tools_used: list[str]
    turns: int
    provider: str
    model: str
