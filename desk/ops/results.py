"""What each operations command returns: typed results that the CLI and Slack only format (``desk.ops.render``)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from desk.results import StatusResult, WhyResult
from graph.state import Execution

__all__ = ["AgentLine", "AgentsResult", "AskResult", "CommandInfo", "HelpResult", "IntentLine", "IntentsResult",
           "LayerLine", "OpsResult", "OverrideResult", "PausedRun", "PnlResult", "PositionLine", "PositionsResult",
           "RunLine", "RunOutcome", "RunsResult", "StatusView", "WeatherResult", "WhyResult"]


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CommandInfo(_Result):
    name: str
    usage: str
    help: str
    mutating: bool
    long: bool


class HelpResult(_Result):
    commands: list[CommandInfo]


class PausedRun(_Result):
    run_id: str
    session: str
    deadline: str
    entries: int
    exits: int


class StatusView(_Result):
    """``status`` plus what operators have pending: runs waiting for approval, vetoes, flatten requests, the
    outbox."""

    status: StatusResult
    paused: list[PausedRun]
    vetoed: list[str]
    flattening: list[str]
    outbox: dict[str, int]


class PositionLine(_Result):
    symbol: str
    quantity: float
    avg_price: float
    price: float | None
    value: float | None
    pnl: float | None
    pnl_pct: float | None
    stop: float
    entry_date: str


class PositionsResult(_Result):
    as_of: str | None
    positions: list[PositionLine]
    equity: float | None
    cash: float | None


class IntentLine(_Result):
    intent_id: str
    symbol: str
    side: str
    kind: str
    quantity: float
    status: str
    status_reason: str | None
    vetoed_by: str | None = None


class IntentsResult(_Result):
    as_of: str | None
    intents: list[IntentLine]


class LayerLine(_Result):
    state: str | None
    score: float | None
    available: bool


class WeatherResult(_Result):
    as_of: str
    run_id: str
    regime: str
    base_regime: str
    narrative: str
    sizing_modifier: float
    risk_throttle: float
    layers: dict[str, LayerLine]
    notes: list[str]


class AgentLine(_Result):
    name: str
    style: str
    model_version: str
    proposals: dict[str, int]
    verdicts: dict[str, int]


class AgentsResult(_Result):
    as_of: str | None
    agents: list[AgentLine]


class PnlResult(_Result):
    period: str
    start: str | None
    end: str | None
    start_equity: float | None
    end_equity: float | None
    change: float | None
    change_pct: float | None
    trades: int
    commissions: float


class RunLine(_Result):
    run_id: str
    kind: str
    as_of: str
    status: str
    started: str
    ended: str | None
    note: str | None = None


class RunsResult(_Result):
    runs: list[RunLine]


class OverrideResult(_Result):
    """An override that took effect: who, when, what, why, and its effect (echoed to the channel, audited)."""

    action: str
    target: str
    reason: str | None
    effect: str
    actor: str
    at: str
    details: list[str] = Field(default_factory=list)


class RunOutcome(_Result):
    """``run PHASE [DATE]``: a run key (phase, date) runs once however often it is triggered."""

    phase: str
    day: date | None
    status: str  # ran | paused | skipped | busy
    run_id: str | None
    reason: str
    details: list[str] = Field(default_factory=list)


class AskResult(_Result):
    question: str
    answer: str


OpsResult = (HelpResult | StatusView | PositionsResult | IntentsResult | WhyResult | WeatherResult | AgentsResult
             | PnlResult | RunsResult | OverrideResult | RunOutcome | AskResult)
