"""What each command takes: one frozen pydantic model per command, checked the same way whichever door built it
(typer's options, a chat line, a JSON body). A value that does not fit is one line saying what to type instead."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from graph.errors import DeskError

PERIODS = ("day", "week", "month", "ytd", "all")
SOURCES = ("bundled", "yfinance", "csv", "alpaca")
PHASES = ("night", "morning", "all")


def parse_date(text: object) -> date | None:
    """YYYY-MM-DD (or a date) → date; anything else is one line."""
    if text is None or isinstance(text, date):
        return text
    try:
        return date.fromisoformat(str(text))
    except ValueError:
        raise DeskError(f"not a date: {text!r} (use YYYY-MM-DD)") from None


Day = Annotated[date | None, BeforeValidator(parse_date)]
Text = Annotated[str, Field(max_length=4000)]


class Args(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class NoArgs(Args):
    pass


class IntentsArgs(Args):
    date: Day = Field(None, description="the night (default: the latest with intents)")


class WhyArgs(Args):
    target: Text = Field(min_length=1, description="an intent id, or a symbol for its latest intent")


class AgentsArgs(Args):
    date: Day = Field(None, description="the night on or before this date (default: the latest)")


class CandidatesArgs(Args):
    date: Day = Field(None, description="the night (default: the latest finished night)")


class OrdersArgs(Args):
    date: Day = Field(None, description="the session (default: the latest with orders)")


class RegimesArgs(Args):
    limit: int = Field(30, description="how many nights, 1 to 120")

    @field_validator("limit", mode="before")
    @classmethod
    def _count(cls, v: object) -> int:
        try:
            n = int(str(v))
        except ValueError:
            raise DeskError(f"not a number of nights: {v!r}") from None
        if not 1 <= n <= 120:
            raise DeskError("regimes N: N from 1 to 120")
        return n


class PnlArgs(Args):
    period: str = Field("day", description="day, week, month, ytd or all")

    @field_validator("period", mode="before")
    @classmethod
    def _known(cls, v: object) -> str:
        period = str(v or "day").lower()
        if period not in PERIODS:
            raise DeskError(f"unknown period {v!r}: use {', '.join(PERIODS)}")
        return period


class RunsArgs(Args):
    limit: int = Field(10, description="how many runs, 1 to 200")

    @field_validator("limit", mode="before")
    @classmethod
    def _count(cls, v: object) -> int:
        try:
            n = int(str(v))
        except ValueError:
            raise DeskError(f"not a number of runs: {v!r}") from None
        if not 1 <= n <= 200:
            raise DeskError("runs N: N from 1 to 200")
        return n


class AskArgs(Args):
    question: Text = Field(description="a question about the desk's record")

    @field_validator("question")
    @classmethod
    def _some(cls, v: str) -> str:
        if not v.strip():
            raise DeskError('ask needs a question: desk ask "why did we buy XOM on 2018-06-29?"')
        return v


class VetoArgs(Args):
    intent: Text = Field(min_length=1, description="an intent id, or a symbol with one pending entry")
    reason: Text | None = None


class UnvetoArgs(Args):
    intent: Text = Field(min_length=1)


class HaltArgs(Args):
    reason: Text = Field(description="why the desk is halted")

    @field_validator("reason")
    @classmethod
    def _some(cls, v: str) -> str:
        if not v.strip():
            raise DeskError("a halt needs a reason: halt REASON (desk halt --reason TEXT)")
        return v.strip()


class FlattenArgs(Args):
    target: Text = Field(min_length=1, description="a held symbol, or all")
    reason: Text | None = None


class ApproveArgs(Args):
    run: str | None = Field(None, description="the paused run (default: the one waiting)")


class RejectArgs(Args):
    run: str | None = Field(None, description="the paused run (default: the one waiting)")
    reason: Text | None = None


class RunArgs(Args):
    phase: str = Field("all", description="night, morning or all")
    date: Day = Field(None, description="the night's date (default: the latest session with data)")
    once: bool = Field(False, description="a run key (phase, date) that already ran is not run again")

    @field_validator("phase", mode="before")
    @classmethod
    def _phase(cls, v: object) -> str:
        phase = str(v).lower()
        if phase not in PHASES:
            raise DeskError(f"unknown phase {v!r}: use night, morning or all")
        return phase


class ReplayArgs(Args):
    start: Day = None
    end: Day = None
    provider: str | None = Field(None, description="rules, openai or anthropic (llm.provider)")
    llm_replay: str | None = Field(None, description="off, auto or only (llm.replay)")


class DataLoadArgs(Args):
    source: str | None = Field(None, description="bundled, yfinance, csv or alpaca (None: data.source)")
    path: Path | None = None
    until: Day = None
    symbol: str | None = None

    @field_validator("source")
    @classmethod
    def _source(cls, v: str | None) -> str | None:
        if v is not None and v not in SOURCES:
            raise DeskError(f"unknown source {v!r}: use {', '.join(SOURCES)}")
        return v


class TrainArgs(Args):
    until: Day = None
    models: list[str] | None = None


class TuneArgs(Args):
    trials: int = 20
    workers: int = 2
    ray: str | None = None
    folds: str | None = None
    validation: str | None = None
    seed: int = 13


class EvalDecisionsArgs(Args):
    start: Day = None
    end: Day = None
    ablate: list[str] = Field(default_factory=list)
    sweep: Path | None = None
    workers: int | None = Field(None, ge=1)
    ray: str | None = None
    llm_replay: str | None = None


class EvalEdgeArgs(Args):
    start: date | None = Field(None, description="first night (None: 2005-01-01)")
    end: date | None = Field(None, description="last night (None: 2018-12-31; 2019 on only with holdout)")
    layers: list[str] | None = Field(None, description="the layers to weigh (default: every layer the desk uses)")
    workers: int | None = Field(None, ge=1)
    ray: str | None = None
    holdout: bool = False
    save: Path | None = None
    resamples: int = 10_000
    again: str | None = Field(None, description="read the ledger again from a finished ledger's eval id (nothing "
                                                "replayed)")

    @field_validator("start", "end", mode="before")
    @classmethod
    def _day(cls, v: object) -> date | None:
        return parse_date(v)


class BuildCasesArgs(Args):
    start: Day = None
    end: Day = None
    role: str = "overlay,weather,risk"
    every: int = 1
    out_dir: Path | None = None
    holdout: bool = False


class EvalPromptsArgs(Args):
    role: str | None = None
    prompt: str = "v1"
    provider: str | None = None
    cases: list[Path] = Field(default_factory=list)
    llm_replay: str | None = None
    gate: bool = False
    save_baseline: bool = False
    baselines: Path | None = None
    tolerance: float = Field(0.02, ge=0.0)


class ReportArgs(Args):
    run: str = "latest"


class StoreCopyArgs(Args):
    to: str = Field(description="the PostgreSQL URL to copy into")
    force: bool = Field(False, description="replace a desk the target already holds")


class FlushArgs(Args):
    timeout: float = Field(30.0, ge=0)
    revive: bool = False


Phase = Literal["night", "morning", "all"]
