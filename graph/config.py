"""The desk's configuration as plain typed values: what the graphs, the replay and the organs' wiring read.

``DeskConfig`` is a frozen pydantic model that rejects unknown keys. It knows nothing about where its values come
from: the application shell (``desk.config.Settings``) reads flags, ``DESK_*`` variables and ``desk.toml`` into
it. Secret values are ``SecretStr`` and are listed by ``secret_values`` so they can be scrubbed from every record.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import time
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from brokers.alpaca.config import AlpacaOptions
from models.promotion import Promotion
from tools.data.bundled import EQUITY_SECTORS, EQUITY_UNIVERSE
from vocab.terms import REGIME_ORDER, Regime, VolState


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


LIVE_SOURCES: tuple[str, ...] = ("yfinance", "alpaca")  # sources with new bars every session: freshness-gated


class DataSettings(_Section):
    source: Literal["bundled", "yfinance", "csv", "alpaca"] = "bundled"
    universe: tuple[str, ...] = EQUITY_UNIVERSE
    benchmark: str = "SP500"
    sectors: dict[str, str] = Field(default_factory=lambda: dict(EQUITY_SECTORS),
                                    description="symbol -> sector for the risk reviewer's crowded-sector check")
    max_age_sessions: int = Field(0, ge=0, description="a live night plans no entries on data whose last bar is more "
                                                       "than this many exchange sessions before the calendar's last "
                                                       "closed session (exits still run)")
    max_daily_jump: float = Field(0.75, gt=0, description="an absolute one-day return above this rejects the symbol")


class RiskSettings(_Section):
    max_positions: int = Field(8, ge=1)
    max_weight: float = Field(0.20, gt=0, le=1)
    max_gross: float = Field(1.0, gt=0, le=1.0, description="gross exposure cap (no leverage by default)")
    min_order_value: float = Field(250.0, ge=0)
    cash_reserve: dict[Regime, float] = Field(
        default_factory=lambda: {
            Regime.CALM_UPTREND: 0.10, Regime.RISK_ON_TREND: 0.15, Regime.CHOPPY: 0.25,
            Regime.RISK_OFF_TREND: 0.30, Regime.HIGH_VOL_PANIC: 0.40,
        }
    )
    trailing_stop: float = Field(0.10, gt=0, lt=1)
    trailing_exits: bool = Field(True, description="a holding's stop trails its peak (off: it stays the initial "
                                                    "stop; the edge ledger's `exits` ablation)")
    profit_tiers: tuple[float, ...] = (1.0, 2.0, 3.0, 5.0, 8.0)
    tier_exit_fraction: float = Field(0.20, gt=0, le=1)
    tier_trails: tuple[float, ...] = (0.08, 0.07, 0.06, 0.05, 0.04)
    score_collapse: float = Field(0.25, ge=0, le=1, description="exit when a holding's agent support falls below this")
    daily_loss_limit: float = Field(0.05, gt=0, lt=1, description="a one-session equity drop beyond this trips a breaker")
    max_consecutive_errors: int = Field(3, ge=1, description="this many failed runs in a row trip a breaker")
    breaker_sessions: int = Field(5, ge=1, description="sessions a tripped breaker blocks new entries")

    @field_validator("cash_reserve")
    @classmethod
    def _all_regimes(cls, v: dict[Regime, float]) -> dict[Regime, float]:
        missing = [str(r) for r in REGIME_ORDER if r not in v]
        if missing:
            raise ValueError(f"cash_reserve needs every regime {[str(r) for r in REGIME_ORDER]}; missing {missing}")
        if any(not 0 <= x < 1 for x in v.values()):
            raise ValueError("cash_reserve values must be in [0, 1)")
        return v


class AgentSettings(_Section):
    """The agents' own lookbacks. The EMA agent's defaults are the conventions (Appel's MACD 12/26; the 50/200
    "golden cross"); ``desk tune`` searches them on folds before 2019 (TradeNova tunes its lookbacks the same way)."""

    ema_fast: int = Field(12, ge=2, le=100, description="EMA crossover: the fast EMA's span (sessions)")
    ema_slow: int = Field(26, ge=3, le=200, description="EMA crossover: the slow EMA's span")
    ema_trend_fast: int = Field(50, ge=5, le=300, description="EMA trend filter: the fast EMA's span")
    ema_trend_slow: int = Field(200, ge=10, le=400, description="EMA trend filter: the slow EMA's span")

    @model_validator(mode="after")
    def _ordered(self) -> AgentSettings:
        if self.ema_fast >= self.ema_slow:
            raise ValueError(f"agents.ema_fast ({self.ema_fast}) must be shorter than agents.ema_slow ({self.ema_slow})")
        if self.ema_trend_fast >= self.ema_trend_slow:
            raise ValueError(f"agents.ema_trend_fast ({self.ema_trend_fast}) must be shorter than "
                             f"agents.ema_trend_slow ({self.ema_trend_slow})")
        return self

    @property
    def ema_spans(self) -> tuple[int, int, int, int]:
        return self.ema_fast, self.ema_slow, self.ema_trend_fast, self.ema_trend_slow


class PicksSettings(_Section):
    base_threshold: float = Field(150.0, ge=0, le=350)
    hit_rate_window: int = Field(30, ge=5, description="trading days of resolved picks for the adaptive threshold")
    base_weight: float = Field(0.20, gt=0, le=1)
    target_vol: float = Field(0.25, gt=0, description="annualised volatility at which the vol factor is 1")


class SizingSettings(_Section):
    """The sizing cascade (Trade-Matrix's four tiers) and its Kelly sizing. The gates and fractions are the
    reference system's published starting points (ARCHITECTURE.md: reference systems), not fitted; `desk tune` may
    search them on data before 2019 only."""

    mode: Literal["cascade", "kelly", "rl", "fixed"] = Field(
        "fixed", description="cascade: the four tiers; kelly: always PURE_KELLY; rl: the RL sizer whenever it is "
                             "promoted (else Kelly); fixed: the base weight alone, the default: Kelly did not earn "
                             "its place in the edge ledger (evals/edge/: the desk without it had the higher Sharpe "
                             "in 2005-2014 and in 2015-2018)")
    kelly_fractions: dict[VolState, float] = Field(
        default_factory=lambda: {VolState.CRISIS: 0.17, VolState.BEAR: 0.25, VolState.NEUTRAL: 0.50,
                                 VolState.BULL: 0.67},
        description="share of full Kelly by volatility state (Trade-Matrix: 17% crisis, 25% bear, 50% neutral, "
                    "67% bull)")
    unknown_state_fraction: float = Field(0.25, ge=0, le=1, description="share of full Kelly when no volatility "
                                                                        "state is usable (the bear share: cautious)")
    full_rl_confidence: float = Field(0.50, ge=0, le=1)
    full_rl_ic: float = Field(0.05, ge=-1, le=1)
    blended_confidence: float = Field(0.40, ge=0, le=1)
    blended_ic: float = Field(0.0, ge=-1, le=1)
    prior_strength: float = Field(20.0, gt=0, description="pseudo-observations behind the Kelly prior's win "
                                                          "probability and a 1:1 payoff before its resolved picks speak")
    target_vol: float = Field(0.12, gt=0, le=1, description="the book's risk budget: the annualised volatility "
                                                            "(held positions and the night's entries together) the "
                                                            "night's entries are scaled to, times the weather's share")
    budget: Literal["scale", "cap", "off"] = Field(
        "scale", description="scale: the night's entries are scaled up or down so the book meets its budget; cap: "
                             "only down; off: no book budget. The default earned its place in the edge ledger on "
                             "the desk without Kelly and the reviewer (evals/edge/budget/: higher Sharpe in 2005-2014 "
                             "and in 2015-2018, drawdown 12.7 and 6.2 points shallower)")
    weather: Literal["once", "compound"] = Field(
        "once", description="once: the regime, the fusion gates and the risk throttle shape a size in one factor "
                            "(the most cautious reading); compound: each multiplies on its own (before issue 18)")
    kelly_prior: Literal["no_edge", "confidence"] = Field(
        "no_edge", description="the Kelly win probability's prior mean: no_edge, the break-even 1 / (1 + payoff), so "
                               "no record is f* = 0; confidence, the agent's stated confidence (before issue 18)")
    kelly_floor: float = Field(0.5, ge=0, le=1, description="Kelly is a modifier of the base weight: share = floor + "
                                                            "(1 - floor) * min(1, Kelly weight / base); 0 is pure "
                                                            "Kelly (f* = 0 sizes nothing)")
    track_sessions: int = Field(126, ge=21, description="sessions of resolved picks behind win rates, payoffs and "
                                                        "information coefficients")
    min_ic_picks: int = Field(20, ge=5, description="resolved picks below which an agent's IC is unknown")

    @field_validator("kelly_fractions")
    @classmethod
    def _all_states(cls, v: dict[VolState, float]) -> dict[VolState, float]:
        missing = [str(s) for s in VolState if s not in v]
        if missing:
            raise ValueError(f"kelly_fractions needs every volatility state; missing {missing}")
        if any(not 0 <= x <= 1 for x in v.values()):
            raise ValueError("kelly_fractions values must be in [0, 1]")
        return v


class TrustSettings(_Section):
    """Agent weights: Beta posteriors from resolved picks, Thompson-sampled nightly (TradeNova), drift cut."""

    mode: Literal["thompson", "equal"] = "thompson"
    seed: int = 13
    window_sessions: int = Field(63, ge=10, description="sessions of resolved picks behind the posteriors")
    drift_window: int = Field(30, ge=5, description="sessions of the live hit rate (TradeNova's trailing 30 days)")
    drift_margin: float = Field(0.10, ge=0, le=1, description="live hit rate this far below the reference rate is "
                                                              "drift")
    drift_min_picks: int = Field(10, ge=1, description="resolved picks on each side before drift is judged")
    drift_factor: float = Field(0.5, ge=0, le=1, description="a drifting agent's weight is multiplied by this")
    min_draw_picks: int = Field(10, ge=0, description="resolved picks in the window before the posterior is drawn "
                                                      "from; fewer take the posterior mean (no noise without "
                                                      "evidence); 0 always draws (before issue 18)")


class RulesSettings(_Section):
    """The deterministic rules provider (the default overlay and reviewer, and every LLM's fallback): which
    concerns it may voice. Off by default, each is applied once elsewhere (graph/providers/rules.py)."""

    regime_entries: bool = Field(False, description="no new longs in a panic; a trend long halved in a defensive "
                                                    "regime (off: the sizing's regime factor alone)")
    vol_shrink: bool = Field(False, description="an entry with vol_21d above 0.45 shrunk x0.7 (off: the volatility "
                                                "step and the book's budget alone; its stop is tightened either way)")
    review_regime: bool = Field(False, description="a risk-off book keeps only its 2 highest-scored new entries")
    review_fragility: bool = Field(False, description="a fragile market (fragility > 0.6) shrinks every entry x0.75 "
                                                      "(off: the fusion gates in the regime factor alone)")
    review_sectors: bool = Field(False, description="the reviewer evens out a sector with more than 3 new entries "
                                                    "(off: the reviewer confirms the book; the edge ledger found the "
                                                    "desk without it better in 2015-2018, evals/edge/)")
    rsi_veto: bool = Field(False, description="veto a non-mean-reversion long with rsi_14 above 85 (off: noted, not "
                                              "vetoed; its vetoes did better than the confirmed entries before 2019)")


class MoonshotSettings(_Section):
    """The moonshot track (TradeNova): asymmetric setups the main scoring ranks modestly, capped, on their own P&L."""

    enabled: bool = True
    min_reward_risk: float = Field(5.0, ge=1, description="reward-to-risk by the agent's target and stop")
    min_score_share: float = Field(0.5, ge=0, le=1, description="the pick's score must reach this share of the "
                                                                "threshold (modest, not ignored)")
    total_cap: float = Field(0.02, ge=0, le=0.02, description="all moonshots together, share of equity (≤ 2%)")
    per_trade: float = Field(0.005, ge=0, le=0.02, description="one moonshot, share of equity")


class BrokerSettings(_Section):
    kind: Literal["paper", "web", "alpaca"] = "paper"
    initial_cash: float = Field(100_000.0, gt=0, allow_inf_nan=False)
    slippage_bps: float = Field(5.0, ge=0, allow_inf_nan=False)
    commission_bps: float = Field(1.0, ge=0, allow_inf_nan=False)
    min_commission: float = Field(1.0, ge=0, allow_inf_nan=False)
    quantity_decimals: int = Field(0, ge=0, le=9, description="the paper broker's units: 0 whole shares, n fractions "
                                                              "to n decimals")
    min_notional: float = Field(0.0, ge=0, allow_inf_nan=False, description="the paper broker's smallest order value")
    url: str | None = Field(None, description="the web broker's address (kind = web); Alpaca's trading API "
                                              "(kind = alpaca; default: Alpaca's paper or live API)")
    site: str = Field("sandbox", description="the web broker's selector map: a shipped name or a .toml path")
    headed: bool = Field(False, description="show the web broker's browser (debugging)")
    chromium: Path = Path("/usr/bin/chromium")
    chromedriver: Path = Path("/usr/bin/chromedriver")
    alpaca: AlpacaOptions = AlpacaOptions()

    @model_validator(mode="after")
    def _web_needs_url(self) -> BrokerSettings:
        if self.kind == "web" and not self.url:
            raise ValueError("broker.kind = web needs broker.url (the broker site's address)")
        return self


Provider = Literal["rules", "openai", "anthropic"]
Method = Literal["auto", "json_schema", "function_calling", "json_mode"]
Role = Literal["weather", "overlay", "risk", "chat"]
ROLES: tuple[Role, ...] = ("weather", "overlay", "risk", "chat")
# The model each LLM provider uses when ``llm.model`` names none, and how each reaches structured output by default
# (``auto``): OpenAI's structured outputs, Anthropic's tool use. Local OpenAI-compatible servers differ: set
# ``llm.method`` to what yours supports (``function_calling`` or ``json_mode``).
DEFAULT_MODELS: dict[str, str] = {"openai": "gpt-4o-mini", "anthropic": "claude-3-5-haiku-latest"}
DEFAULT_METHODS: dict[str, str] = {"openai": "json_schema", "anthropic": "function_calling"}


class Price(_Section):
    """A model's list price in US dollars per million tokens (0 for a local server)."""

    input_usd_per_mtok: float = Field(ge=0, allow_inf_nan=False)
    output_usd_per_mtok: float = Field(ge=0, allow_inf_nan=False)


def _default_prices() -> dict[str, Price]:
    """Published list prices (USD per million input / output tokens) of the models a desk is likely to name."""
    table = {"gpt-4o-mini": (0.15, 0.60), "gpt-4o": (2.50, 10.00), "gpt-4.1-mini": (0.40, 1.60),
             "gpt-4.1": (2.00, 8.00), "claude-3-5-haiku-latest": (0.80, 4.00),
             "claude-sonnet-4-0": (3.00, 15.00), "claude-opus-4-0": (15.00, 75.00)}
    return {m: Price(input_usd_per_mtok=i, output_usd_per_mtok=o) for m, (i, o) in table.items()}


class RoleSettings(_Section):
    """A per-role override of the ``llm`` settings (``[llm.weather]``, ``[llm.overlay]``, ``[llm.risk]``,
    ``[llm.chat]``); a key left out is the ``llm`` section's."""

    provider: Provider | None = None
    model: str | None = Field(None, min_length=1)
    timeout_s: float | None = Field(None, gt=0, le=600)
    max_retries: int | None = Field(None, ge=0, le=10)
    max_tokens: int | None = Field(None, ge=16, le=100_000)
    method: Method | None = None


class OverlayRoleSettings(RoleSettings):
    """The overlay's override, and how it is asked: one call per night for every proposal, or one per proposal."""

    calls: Literal["per_night", "per_proposal"] = "per_night"
    allow_reverse: bool = Field(False, description="let the overlay reverse an entry's direction (off: a reversal "
                                                   "is recorded as a veto)")


class ResolvedRole(_Section):
    """What one role runs on, once its override is laid over the ``llm`` section."""

    role: Role
    provider: Provider
    model: str
    timeout_s: float
    max_retries: int
    max_tokens: int
    method: Literal["json_schema", "function_calling", "json_mode"]
    prompt_version: str


class LLMSettings(_Section):
    provider: Provider = "rules"
    model: str | None = Field(None, min_length=1, description="default: gpt-4o-mini (openai), "
                                                              "claude-3-5-haiku-latest (anthropic)")
    timeout_s: float = Field(30.0, gt=0, le=600, description="one HTTP request")
    max_retries: int = Field(2, ge=0, le=10, description="retries of a failed request (429 honours Retry-After)")
    max_tokens: int = Field(2048, ge=16, le=100_000)
    method: Method = "auto"
    deadline_s: float = Field(120.0, gt=0, le=3600, description="a whole call, retries included; then rules")
    replay: Literal["off", "auto", "only"] = "off"
    prompt_versions: dict[Role, str] = Field(default_factory=dict, description="role -> prompt version (v1)")
    max_usd_per_run: float = Field(0.50, ge=0, allow_inf_nan=False)
    max_usd_per_day: float = Field(2.00, ge=0, allow_inf_nan=False)
    prices: dict[str, Price] = Field(default_factory=_default_prices)
    track_record_sessions: int = Field(252, ge=0, le=5000, description="sessions of resolved outcomes the "
                                                                        "overlay and the risk reviewer see")
    weather: RoleSettings = RoleSettings()
    overlay: OverlayRoleSettings = OverlayRoleSettings()
    risk: RoleSettings = RoleSettings()
    chat: RoleSettings = RoleSettings()

    @field_validator("prompt_versions")
    @classmethod
    def _versions(cls, v: dict[str, str]) -> dict[str, str]:
        bad = [f"{role}={version!r}" for role, version in v.items() if not re.fullmatch(r"v\d+", version)]
        if bad:
            raise ValueError(f"a prompt version is v1, v2, ...; got {', '.join(bad)}")
        return v

    def role(self, role: Role) -> ResolvedRole:
        """The settings one role runs on: its override, else this section, else the provider's defaults."""
        own: RoleSettings = getattr(self, role)
        provider = own.provider or self.provider
        method = own.method or self.method
        return ResolvedRole(
            role=role, provider=provider,
            model=own.model or (self.model if own.provider in (None, self.provider) else None)
            or DEFAULT_MODELS.get(provider, "rules-v1"),
            timeout_s=own.timeout_s or self.timeout_s,
            max_retries=self.max_retries if own.max_retries is None else own.max_retries,
            max_tokens=own.max_tokens or self.max_tokens,
            method=DEFAULT_METHODS.get(provider, "json_schema") if method == "auto" else method,
            prompt_version=self.prompt_versions.get(role, "v1"))

    @property
    def uses_llm(self) -> bool:
        return any(self.role(r).provider != "rules" for r in ROLES)


class MorningSettings(_Section):
    max_intent_age_days: int = Field(3, ge=0, description="trading days")
    max_gap: float = Field(0.05, gt=0)


ModelName = Literal["regime", "health", "direction", "mean_reversion", "vol_state", "garch", "rl_sizer"]


class ModelSettings(_Section):
    retrain_months: int = Field(3, ge=1, description="walk-forward retraining cadence")
    train_years: int = Field(10, ge=1)
    horizon_days: int = Field(5, ge=1, description="label horizon; also the purge gap before each decision")
    train_in_run: tuple[ModelName, ...] = Field(
        ("mean_reversion", "vol_state", "garch"), description="models a run (or a replay, per retrain block) trains for itself when "
                                         "its block has none; the others come from `desk train`")
    promotion_test: Literal["bootstrap", "point"] = Field(
        "bootstrap", description="bootstrap: a candidate's margin over its naive baseline and the incumbent must be "
                                 "significant (paired block bootstrap on the purged tail); point: any positive margin "
                                 "(before issue 18)")
    promotion_alpha: float = Field(0.05, gt=0, lt=0.5, description="the one-sided significance level of promotion")

    @property
    def promotion(self) -> Promotion:
        return Promotion(test=self.promotion_test, alpha=self.promotion_alpha)


MessageKind = Literal["run", "step", "warning", "error", "approval", "override"]
Level = Literal["on", "silent", "off"]
SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")
SLACK_CONVERSATION = re.compile(r"^[CGD][A-Z0-9]{2,}$")


class SlackSettings(_Section):
    """Where the desk reports and who may command it. Slack is off until ``channel`` and a bot token are set; the
    tokens come from ``SLACK_BOT_TOKEN``, ``SLACK_APP_TOKEN`` and ``SLACK_SIGNING_SECRET``."""

    channel: str | None = Field(None, description="channel (id or name) every run is reported to")
    errors_channel: str | None = Field(None, description="failed runs and steps are also posted here")
    api_url: str = Field("https://slack.com/api/", description="the Slack Web API (tests point it at 127.0.0.1)")
    mode: Literal["socket", "http"] = Field("socket", description="socket: Socket Mode; http: /slack/events")
    command: str = Field("/desk", pattern=r"^/[a-z0-9_\-]{1,31}$", description="the slash command")
    operators: tuple[str, ...] = Field((), description="Slack user ids allowed to override (veto, halt, approve…)")
    readers: tuple[str, ...] = Field((), description="Slack channel or user ids allowed the read-only commands")
    levels: dict[MessageKind, Level] = Field(
        default_factory=lambda: {"run": "on", "step": "silent", "warning": "on", "error": "on", "approval": "on",
                                 "override": "on"},
        description="per message kind: on (posted, shown in the channel), silent (in the run's thread only), off")
    timezone: str = Field("America/New_York", description="the desk's time zone: every time Slack shows (IANA name)")
    all_steps: bool = Field(False, description="post every step in a run's thread, not only the steps that decided "
                                               "something (failed, warned, or a decision: regime, verdicts, exits, "
                                               "rules, intents, the book check, approval, execution, reconcile)")
    timeout_seconds: float = Field(10.0, gt=0, le=120, description="one Web API call's timeout")
    retry_max_seconds: float = Field(300.0, gt=0, description="the outbox's backoff never waits longer than this")
    bot_token: SecretStr | None = Field(None, description="xoxb-…: from SLACK_BOT_TOKEN")
    app_token: SecretStr | None = Field(None, description="xapp-…: Socket Mode, from SLACK_APP_TOKEN")
    signing_secret: SecretStr | None = Field(None, description="HTTP mode's request signing secret, from "
                                                                "SLACK_SIGNING_SECRET")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"not a time zone: {v!r} (an IANA name such as America/New_York or Europe/London)") \
                from None
        return v

    @field_validator("operators")
    @classmethod
    def _user_ids(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [x for x in v if not SLACK_USER.match(x)]
        if bad:
            raise ValueError(f"operators are Slack user ids (U…/W…, from a profile's 'Copy member ID'), not names: "
                             f"{bad}")
        return v

    @field_validator("readers")
    @classmethod
    def _reader_ids(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [x for x in v if not (SLACK_USER.match(x) or SLACK_CONVERSATION.match(x))]
        if bad:
            raise ValueError(f"readers are Slack channel ids (C…/G…) or user ids (U…/W…), not names: {bad}")
        return v

    @field_validator("levels")
    @classmethod
    def _every_kind(cls, v: dict[str, str]) -> dict[str, str]:
        defaults = {"run": "on", "step": "silent", "warning": "on", "error": "on", "approval": "on",
                    "override": "on"}
        return {**defaults, **v}

    @property
    def enabled(self) -> bool:
        """Reports go to Slack: a channel and a bot token are set."""
        return bool(self.channel and self.bot_token and self.bot_token.get_secret_value())


class ExecutionSettings(_Section):
    require_approval: bool = Field(False, description="the morning pauses before execution for an operator")
    approval_minutes: int = Field(30, ge=1, le=24 * 60,
                                  description="a paused morning not approved within this runs exits and stops only")


def _clock(text: str) -> str:
    try:
        time.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a time of day HH:MM (America/New_York)") from None
    if len(text) != 5:
        raise ValueError(f"{text!r}: write the time as HH:MM")
    return text


class ScheduleSettings(_Section):
    """When ``desk serve`` runs the graphs: cron times in America/New_York on NYSE sessions (exchange_calendars)."""

    night: str = Field("22:00", description="HH:MM New York time, on each session day")
    morning: str = Field("09:45", description="HH:MM New York time, on each session day")
    after_close_minutes: int = Field(15, ge=0, description="a night never starts sooner after the session's close "
                                                           "(an early close is the calendar's)")
    after_open_minutes: int = Field(10, ge=0, description="a morning never starts sooner after the open")
    misfire_grace_minutes: int = Field(60, ge=1, description="a run missed by less than this still runs")

    @field_validator("night", "morning")
    @classmethod
    def _times(cls, v: str) -> str:
        return _clock(v)


class ServeSettings(_Section):
    host: str = Field("127.0.0.1", description="where /health, /metrics, /slack/events and the dashboard listen")
    http_port: int = Field(8080, ge=1, le=65535)


class DashboardSettings(_Section):
    """The operator's dashboard at ``/`` of ``desk serve``'s port. On a loopback address it is open to read; bound
    anywhere else every page needs a login with ``token`` (from ``DESK_DASHBOARD__TOKEN``). Actions (approve,
    reject, veto, halt, resume) always need a login, and ``actions`` on; the core allows them to Slack's operators
    only (``slack.operators``), audited and echoed as Slack's are."""

    enabled: bool = Field(True, description="serve the dashboard at / (off: / is a 404 as before)")
    actions: bool = Field(False, description="allow approve, reject, veto, halt and resume from the page")
    token: SecretStr | None = Field(None, description="the login's secret, from DESK_DASHBOARD__TOKEN; a login "
                                                      "names a Slack member id of slack.operators or slack.readers")
    session_minutes: int = Field(480, ge=1, le=10080, description="a login lasts this long without use")


class StoreSettings(_Section):
    url: str | None = Field(None, description="a PostgreSQL database for the store and the checkpoints, shared by "
                                              "several hosts (postgresql://user@host:5432/desk; the password from "
                                              "PGPASSWORD or ~/.pgpass); unset: the SQLite files in DESK_HOME")

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        v = v.strip()
        if not v.startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a PostgreSQL URL (postgresql://user@host:5432/desk), or unset for SQLite")
        return v


class DeskConfig(BaseModel):
    """Every setting of one desk. Paths derive from ``home``; nothing here reads the environment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    home: Path
    data: DataSettings = DataSettings()
    risk: RiskSettings = RiskSettings()
    agents: AgentSettings = AgentSettings()
    picks: PicksSettings = PicksSettings()
    sizing: SizingSettings = SizingSettings()
    trust: TrustSettings = TrustSettings()
    rules: RulesSettings = RulesSettings()
    moonshot: MoonshotSettings = MoonshotSettings()
    broker: BrokerSettings = BrokerSettings()
    llm: LLMSettings = LLMSettings()
    morning: MorningSettings = MorningSettings()
    models: ModelSettings = ModelSettings()
    slack: SlackSettings = SlackSettings()
    execution: ExecutionSettings = ExecutionSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    serve: ServeSettings = ServeSettings()
    dashboard: DashboardSettings = DashboardSettings()
    store: StoreSettings = StoreSettings()

    @property
    def store_path(self) -> Path:
        """The SQLite store file (the embedded default); see ``store_location``."""
        return self.home / "desk.sqlite"

    @property
    def store_location(self) -> Path | str:
        """Where the store is: the PostgreSQL URL of ``store.url``, else the SQLite file in the home."""
        return self.store.url or self.store_path

    @property
    def checkpoint_path(self) -> Path:
        """The SQLite checkpoint file (the embedded default); see ``checkpoint_location``."""
        return self.home / "checkpoints.sqlite"

    @property
    def checkpoint_location(self) -> Path | str:
        """Where LangGraph's checkpoints are: beside the store in PostgreSQL, else their SQLite file."""
        return self.store.url or self.checkpoint_path

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def broker_path(self) -> Path:
        return self.home / "paper_broker.sqlite"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @property
    def artifacts_dir(self) -> Path:
        return self.home / "artifacts"

    @property
    def log_path(self) -> Path:
        return self.home / "desk-error.log"


def secret_values(model: BaseModel) -> Iterator[str]:
    """Every non-empty ``SecretStr`` value in a (nested) settings model, for scrubbing."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, SecretStr) and value.get_secret_value():
            yield value.get_secret_value()
        elif isinstance(value, StoreSettings) and value.url and urlsplit(value.url).password:
            yield str(urlsplit(value.url).password)
        elif isinstance(value, BaseModel):
            yield from secret_values(value)
