"""Model inference as typed calls, ready to wrap as LangChain tools (the wiring lives in tools/, not here).

``ModelService(registry, inputs)`` pins a registry snapshot when built, so one night (or one replay) sees one
set of versions even if a retrain promotes another meanwhile. Each method takes a pydantic argument model and
returns a pydantic result naming the model version, its cutoff and the session the prediction is for. Errors
are one line each: UnknownSymbol (with a suggestion), NoModel (no promoted version usable on that date, and
why), NoData (before the data, or an incomplete input window). A symbol whose features are missing that day is
not an error: it comes back ``available=False`` with the reason, never a guessed score.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from models.errors import NoModel
from models.inputs import ModelInputs
from models.labels import BEHAVIOURS, VOL_BUCKETS
from models.registry import ModelRegistry
from models.snapshot import RegistrySnapshot, calendar
from vocab.terms import REGIME_ORDER, Regime, VolState

VolBucket = Literal["low", "medium", "high"]
Behaviour = Literal["momentum", "mean_reversion", "mixed"]
assert get_args(VolBucket) == VOL_BUCKETS and get_args(Behaviour) == BEHAVIOURS  # one spelling of each
Probability = Field(ge=0.0, le=1.0)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AsOfArgs(_Frozen):
    as_of: date = Field(description="decision date; the last session on or before it is used")


class SymbolsArgs(AsOfArgs):
    symbols: list[str] = Field(min_length=1, max_length=500, description="universe symbols, e.g. ['AAPL', 'XOM']")


class ModelAvailability(_Frozen):
    model: str
    as_of: date
    usable: bool
    model_version: str | None
    cutoff: date | None
    reason: str


class _Stamp(_Frozen):
    model: str
    model_version: str
    cutoff: date = Field(description="last date of data the model's labels read")
    as_of: date
    session: date = Field(description="the session the prediction is for (last session on or before as_of)")


class RegimeResult(_Stamp):
    regime: Regime = Field(description="argmax of the averaged probabilities")
    probabilities: dict[Regime, float] = Field(description="mean of the two networks, next 21 sessions")
    gru: dict[Regime, float]
    transformer: dict[Regime, float]
    disagreement: float = Field(ge=0.0, le=1.0, description="Jensen-Shannon divergence of the two, in bits")


class HealthScore(_Frozen):
    symbol: str
    available: bool
    reason: str | None = None
    health: float | None = Field(None, ge=0.0, le=1.0, description="expected percentile of the next 21-session return")
    vol_bucket: VolBucket | None = None
    vol_probabilities: dict[VolBucket, float] | None = None
    behaviour: Behaviour | None = None
    behaviour_probabilities: dict[Behaviour, float] | None = None


class HealthResult(_Stamp):
    scores: list[HealthScore]
    validated_heads: list[Literal["health", "vol_bucket", "behaviour"]] = Field(
        description="heads that beat their naive baselines on the model's validation fold; trust only these")


class DirectionScore(_Frozen):
    symbol: str
    available: bool
    reason: str | None = None
    p_up: float | None = Field(None, ge=0.0, le=1.0)


class DirectionResult(_Stamp):
    horizon_days: int
    scores: list[DirectionScore]


class VolStateResult(_Stamp):
    state: VolState = Field(description="the most probable filtered state, from calm (bull) to crisis")
    probabilities: dict[VolState, float] = Field(description="filtered posterior of the last session")
    state_vols: dict[VolState, float] = Field(description="each state's typical annualised index volatility")
    current_vol: float = Field(ge=0.0, description="the index's annualised 21-session realised volatility")


class VolForecast(_Frozen):
    symbol: str
    available: bool
    reason: str | None = None
    vol: float | None = Field(None, gt=0.0, description="annualised mean volatility over the next sessions")


class GarchResult(_Stamp):
    horizon_days: int
    forecasts: list[VolForecast]


class SizeArgs(AsOfArgs):
    strength: float = Field(ge=0, le=1, description="the proposal's strength")
    confidence: float = Field(ge=0, le=1, description="the proposal's confidence")
    vol_21d: float | None = Field(None, description="the asset's annualised 21-session volatility")
    ret_21d: float | None = Field(None, description="the asset's 21-session return")
    index_vol_21d: float | None = Field(None, description="the index's annualised 21-session volatility")
    book_gross: float = Field(0.0, ge=0, description="the book's gross exposure, share of equity")


class SizeResult(_Stamp):
    size: float = Field(ge=0, le=1, description="size multiplier of the base weight")


def _missing(symbol: str) -> dict[str, Any]:
    return {"symbol": symbol, "available": False, "reason": "features incomplete on this session (warm-up or no bar)"}


class ModelService:
    """Every model's inference over one ``ModelInputs``, against one pinned registry snapshot."""

    def __init__(self, registry: ModelRegistry, inputs: ModelInputs, snapshot: RegistrySnapshot | None = None) -> None:
        self.registry, self.inputs = registry, inputs
        self.snapshot = snapshot or registry.snapshot()
        self._calendar = calendar(inputs.sessions)
        self._usable: dict[tuple[str, date], Any] = {}

    def availability(self, name: str, as_of: date) -> ModelAvailability:
        key = (name, as_of)
        if key not in self._usable:
            self._usable[key] = self.snapshot.usable(name, as_of, self._calendar)
        a = self._usable[key]
        return ModelAvailability(model=name, as_of=as_of, usable=a.usable, model_version=a.version, cutoff=a.cutoff,
                                 reason=a.reason)

    def _model(self, name: str, as_of: date) -> Any:
        a = self.availability(name, as_of)
        if a.model_version is None:
            raise NoModel(name, as_of, a.reason)
        return self.registry.load(name, a.model_version)

    def _stamp(self, name: str, model: Any, as_of: date, session: date) -> dict[str, Any]:
        return {"model": name, "model_version": model.version, "cutoff": model.cutoff, "as_of": as_of,
                "session": session}

    def regime(self, args: AsOfArgs) -> RegimeResult:
        model = self._model("regime", args.as_of)
        out = model.predict_at(self.inputs, args.as_of)
        named = lambda p: dict(zip(REGIME_ORDER, (float(v) for v in p), strict=True))
        return RegimeResult(**self._stamp("regime", model, args.as_of, out["session"]),
                            regime=REGIME_ORDER[int(out["mean"].argmax())], probabilities=named(out["mean"]),
                            gru=named(out["gru"]), transformer=named(out["transformer"]),
                            disagreement=out["disagreement"])

    def health(self, args: SymbolsArgs) -> HealthResult:
        self.inputs.symbol_positions(args.symbols)           # unknown symbols fail before any model work
        model = self._model("health", args.as_of)
        out = model.predict_at(self.inputs, args.as_of, args.symbols)
        scores = []
        for symbol, row in out["rows"].items():
            if row is None:
                scores.append(HealthScore(**_missing(symbol)))
                continue
            vol, beh = row["vol"], row["behaviour"]
            scores.append(HealthScore(
                symbol=symbol, available=True, health=float(row["health"]), vol_bucket=VOL_BUCKETS[int(vol.argmax())],
                vol_probabilities=dict(zip(VOL_BUCKETS, map(float, vol), strict=True)),
                behaviour=BEHAVIOURS[int(beh.argmax())],
                behaviour_probabilities=dict(zip(BEHAVIOURS, map(float, beh), strict=True))))
        extra = model.metrics["validation"].get("extra", {})
        heads = ["health"] + [h for h in ("vol_bucket", "behaviour") if extra.get(h, {}).get("beats_baseline")]
        return HealthResult(**self._stamp("health", model, args.as_of, out["session"]), scores=scores,
                            validated_heads=heads)

    def _direction_like(self, name: str, args: SymbolsArgs) -> DirectionResult:
        self.inputs.symbol_positions(args.symbols)
        model = self._model(name, args.as_of)
        out = model.predict_at(self.inputs, args.as_of, args.symbols)
        scores = [DirectionScore(symbol=s, available=True, p_up=p) if p is not None else DirectionScore(**_missing(s))
                  for s, p in out["rows"].items()]
        return DirectionResult(**self._stamp(name, model, args.as_of, out["session"]), horizon_days=model.horizon,
                               scores=scores)

    def direction(self, args: SymbolsArgs) -> DirectionResult:
        return self._direction_like("direction", args)

    def mean_reversion(self, args: SymbolsArgs) -> DirectionResult:
        return self._direction_like("mean_reversion", args)

    def vol_state(self, args: AsOfArgs) -> VolStateResult:
        model = self._model("vol_state", args.as_of)
        out = model.predict_at(self.inputs, args.as_of)
        names = model.names
        prob = dict(zip(names, (float(p) for p in out["probabilities"]), strict=True))
        return VolStateResult(**self._stamp("vol_state", model, args.as_of, out["session"]),
                              state=max(prob, key=prob.get), probabilities=prob,
                              state_vols=dict(zip(names, (float(v) for v in out["state_vols"]), strict=True)),
                              current_vol=out["current_vol"])

    def rl_sizer(self, args: SizeArgs) -> SizeResult:
        from models.rl_sizer import observation

        model = self._model("rl_sizer", args.as_of)
        obs = observation(args.strength, args.confidence, args.vol_21d or float("nan"), args.ret_21d or 0.0,
                          args.index_vol_21d or float("nan"), args.book_gross)
        session = self.inputs.session(self.inputs.position(args.as_of))
        return SizeResult(**self._stamp("rl_sizer", model, args.as_of, session),
                          size=model.size_at(self.inputs, args.as_of, obs))

    def garch(self, args: SymbolsArgs) -> GarchResult:
        self.inputs.symbol_positions(args.symbols)
        model = self._model("garch", args.as_of)
        out = model.predict_at(self.inputs, args.as_of, args.symbols)
        rows = [VolForecast(symbol=s, available=True, vol=v) if v is not None else
                VolForecast(symbol=s, available=False, reason="no stationary GARCH fit for it in the training window")
                for s, v in out["rows"].items()]
        return GarchResult(**self._stamp("garch", model, args.as_of, out["session"]), horizon_days=model.horizon,
                           forecasts=rows)
