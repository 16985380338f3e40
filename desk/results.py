"""The one result family: what every command of the core (``desk.core``) returns, whichever door asked.

Each is a frozen pydantic model: the command line prints it (``--json`` prints exactly its JSON), Slack and
``desk ops`` render it as plain lines (``desk.core.render``), and the doors to come (the dashboard's API, an MCP
server) serve its JSON and its JSON schema. The results of the long offline jobs (evals, training, tuning) live
beside their jobs and derive from ``Result`` too.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from memory.why import FillRow, OrderRow, ProposalRow
from tools.freshness import Freshness
from vocab.contracts import Denial, Execution, SizingFactor, Verdict


class Result(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# ---------------------------------------------------------------------- help
class CommandInfo(Result):
    name: str
    usage: str
    help: str
    mutating: bool
    long: bool


class HelpResult(Result):
    commands: list[CommandInfo]


# ---------------------------------------------------------------------- status
class BreakerInfo(Result):
    name: str
    tripped: str
    sessions: int
    reason: str


class PositionInfo(Result):
    quantity: float
    avg_price: float
    stop: float


class RunInfo(Result):
    run_id: str
    kind: str
    as_of: str
    status: str


class PausedRun(Result):
    run_id: str
    session: str
    deadline: str
    entries: int
    exits: int


class StatusResult(Result):
    """Halted or not, breakers, the book, the latest runs, and what operators have pending: runs waiting for
    approval, vetoes, flatten requests, the Slack outbox."""

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
    alerts: list[str] = Field(default_factory=list, description="what needs an operator now (desk.alerts: the "
                              "reasons /health answers 503 for)")
    data_age_sessions: int | None = None  # the data's age against the calendar's last closed session now
    data_reference: str | None = None  # that session
    paused: list[PausedRun] = Field(default_factory=list)
    vetoed: list[str] = Field(default_factory=list)
    flattening: list[str] = Field(default_factory=list)
    outbox: dict[str, int] = Field(default_factory=dict)

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


# ---------------------------------------------------------------------- the book and the record
class PositionLine(Result):
    symbol: str
    quantity: float
    avg_price: float
    price: float | None
    value: float | None
    pnl: float | None
    pnl_pct: float | None
    stop: float
    entry_date: str


class PositionsResult(Result):
    as_of: str | None
    positions: list[PositionLine]
    equity: float | None
    cash: float | None


class IntentLine(Result):
    intent_id: str
    symbol: str
    side: str
    kind: str
    quantity: float
    status: str
    status_reason: str | None
    vetoed_by: str | None = None


class IntentsResult(Result):
    as_of: str | None
    intents: list[IntentLine]


class NotEntered(Result):
    """A night the symbol was a selected pick and was not bought: the rules that denied it."""

    as_of: date
    score: float
    denials: list[Denial]


class WhyResult(Result):
    """The full reason chain behind an intent (memory.why.reason_chain)."""

    intent_id: str
    as_of: date
    symbol: str
    side: str
    kind: str
    quantity: float
    status: str
    status_reason: str | None
    reasons: list[str]
    models: list[ProposalRow] = Field(description="each proposal behind it: agent, action, model version")
    sizing: list[SizingFactor]
    tier: str | None = Field(None, description="the sizing cascade's tier (FULL_RL, BLENDED, PURE_KELLY, ...)")
    gates: list[str] = Field(default_factory=list, description="each gate of the tier choice and how it went")
    track: str = "main"
    verdicts: list[Verdict]
    denials: list[Denial]
    orders: list[OrderRow]
    fills: list[FillRow]
    not_entered: NotEntered | None = Field(None, description="the latest night after this intent on which the "
                                                             "symbol was a selected pick and was not bought, and why")


class LayerLine(Result):
    state: str | None
    score: float | None
    available: bool


class WeatherResult(Result):
    as_of: str
    run_id: str
    regime: str
    base_regime: str
    narrative: str
    sizing_modifier: float
    risk_throttle: float
    layers: dict[str, LayerLine]
    notes: list[str]


class AgentLine(Result):
    """One agent on a night: what it proposed, what the overlay said, and the trust the desk put in it."""

    agent: str
    style: str | None = None
    model_version: str | None = None
    proposals: dict[str, int] = Field(default_factory=dict)
    verdicts: dict[str, int] = Field(default_factory=dict)
    weight: float | None = None
    alpha: float | None = None
    beta: float | None = None
    posterior_mean: float | None = Field(None, description="alpha / (alpha + beta)")
    sample: float | None = Field(None, description="the night's Thompson draw")
    resolved: int | None = None
    hit_rate: float | None = None
    ic: float | None = None
    live_rate: float | None = None
    reference_rate: float | None = None
    drift: bool | None = None
    reason: str | None = None


class AgentsResult(Result):
    as_of: str | None
    mode: str
    agents: list[AgentLine]


class PnlResult(Result):
    period: str
    start: str | None
    end: str | None
    start_equity: float | None
    end_equity: float | None
    change: float | None
    change_pct: float | None
    trades: int
    commissions: float


class RunLine(Result):
    run_id: str
    kind: str
    as_of: str
    status: str
    started: str
    ended: str | None
    note: str | None = None


class RunsResult(Result):
    runs: list[RunLine]


class AskResult(Result):
    question: str
    answer: str
    tools_used: list[str]
    turns: int
    provider: str
    model: str


# ---------------------------------------------------------------------- overrides
class OverrideResult(Result):
    """An override that took effect: who, when, what, why, and its effect (echoed to the channel, audited)."""

    action: str
    target: str
    reason: str | None
    effect: str
    actor: str
    at: str
    details: list[str] = Field(default_factory=list)


# ---------------------------------------------------------------------- runs
class ProposalLine(Result):
    symbol: str
    agent: str
    action: str
    strength: float
    verdict: str | None
    verdict_reason: str | None
    rationale: str


class PickLine(Result):
    symbol: str
    score: float
    selected: bool


class NightIntent(Result):
    intent_id: str
    side: str
    kind: str
    quantity: float
    weight: float
    reasons: list[str]


class NightSummary(Result):
    as_of: str
    run_id: str
    regime: str
    base_regime: str
    narrative: str
    threshold: float | None
    threshold_reason: str | None
    proposals: list[ProposalLine]
    picks: list[PickLine]
    intents: list[NightIntent]
    denials: dict[str, list[str]]
    llm_calls: int = 0
    llm_usd: float = 0.0
    llm_fallbacks: list[str] = Field(default_factory=list)
    freshness: Freshness | None = None  # the data's age in sessions, and against what
    frozen: str | None = None  # the night was not planned again: its morning had started

    @property
    def stale(self) -> str | None:
        """Why the freshness gate refused every new entry (a failed run), or None."""
        return f"stale data: {self.freshness.reason}" if self.freshness and self.freshness.stale else None


class MorningSummary(Result):
    session: str
    run_id: str
    quote_sources: list[str]
    results: list[Execution]
    equity: float | None
    cash: float | None
    waiting: str | None = None  # the run paused for an operator's approval: what it waits for


RunStatus = Literal["ran", "paused", "skipped", "busy"]


class RunResult(Result):
    """``run``: the night and/or the morning of a date. With ``once`` (chat and the scheduler) a run key (phase,
    date) runs once however often it is triggered: a finished run is ``skipped``, a paused one stays ``paused``,
    a run another process holds the book for is ``busy``."""

    phase: str
    day: date | None
    status: RunStatus
    run_id: str | None
    reason: str
    night: NightSummary | None = None
    morning: MorningSummary | None = None
    warnings: list[str] = Field(default_factory=list, description="each step of the run that halted new entries "
                                "(a book mismatch, a tripped breaker): `run ID node: summary`")


# ---------------------------------------------------------------------- data and Slack
class DataLoadResult(Result):
    source: str
    written: dict[str, int]
    rejected: dict[str, str]
    note: str | None
    until: date | None


class SymbolLine(Result):
    symbol: str
    kind: str
    source: str
    first_date: str | None
    last_date: str | None
    rows: int
    stale: bool
    note: str | None = None


class DataStatusResult(Result):
    data_until: str | None
    symbols: list[SymbolLine]
    source: str = Field(description="data.source: what `desk data load` loads by default")


class FlushResult(Result):
    sent: int
    waiting: int
    dead: int
    errors: list[str]


class RefusedMessage(Result):
    id: int
    kind: str
    channel: str
    error: str | None


class OutboxResult(Result):
    pending: int
    sent: int
    dead: int
    next_attempt: str | None
    last_error: str | None
    refused: list[RefusedMessage]


# ---------------------------------------------------------------------- the book since inception (the dashboard)
class BookPoint(Result):
    date: str
    equity: float
    benchmark: float | None = Field(description="the S&P 500 bought with the book's first equity, held")
    equal_weight: float | None = Field(description="the universe equal-weighted monthly from the book's first equity")
    drawdown: float = Field(description="equity against its running peak, minus 1")


class MonthReturn(Result):
    month: str
    change_pct: float


class BookResult(Result):
    """The book since its first snapshot beside its benchmarks, its drawdown and monthly returns, and today's
    change, exposure and cash."""

    as_of: str | None
    inception: str | None
    initial_cash: float
    benchmark: str
    equity: float | None
    cash: float | None
    positions_value: float | None
    exposure: float | None = Field(description="gross positions over equity")
    day_change: float | None
    day_change_pct: float | None
    total_return: float | None
    benchmark_return: float | None
    equal_weight_return: float | None
    max_drawdown: float | None
    curve: list[BookPoint]
    monthly: list[MonthReturn]


class HoldingLine(PositionLine):
    initial_stop: float
    peak: float
    trail_pct: float
    tiers_hit: int = Field(description="profit tiers already taken")
    intent_id: str | None = Field(description="the intent that opened it (`why` it)")
    tier: str | None = Field(description="its sizing cascade's tier")
    agents: list[str] = Field(description="the agents whose proposals opened it")


class HoldingsResult(Result):
    as_of: str | None
    equity: float | None
    cash: float | None
    holdings: list[HoldingLine]


class CandidateLine(Result):
    symbol: str
    score: float
    threshold: float
    selected: bool
    agents: list[str]
    dissent: float
    explanation: str
    intent_id: str | None
    intent_status: str | None
    intent_reason: str | None
    denials: list[Denial]


class CandidatesResult(Result):
    as_of: str | None
    run_id: str | None
    threshold: float | None
    threshold_reason: str | None
    candidates: list[CandidateLine]


class OrderLine(Result):
    client_order_id: str
    intent_id: str
    symbol: str
    side: str
    quantity: float
    status: str
    detail: str | None
    filled: float | None
    price: float | None
    commission: float | None
    price_source: str | None


class OrdersResult(Result):
    session: str | None
    orders: list[OrderLine]


class RegimeDay(Result):
    as_of: str
    run_id: str
    regime: str
    base_regime: str
    sizing_modifier: float
    risk_throttle: float
    layers: dict[str, LayerLine]
    experts: dict[str, float | bool | None]
    notes: list[str]
    narrative: str
    nudge: int = Field(description="the analyst's regime nudge: +1 more defensive, -1 less, 0 none")
    narrator: str | None = Field(description="the provider that wrote the narrative")


class RegimesResult(Result):
    order: list[str] = Field(description="the regimes from most supportive to most hostile")
    nights: list[RegimeDay]
