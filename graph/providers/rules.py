"""The deterministic, self-explaining overlay: the default provider and every LLM provider's fallback.

Each rule is a small function that either objects (veto or adjust) or says which check it
passed, so every verdict names the rules behind it. Thresholds are module constants.

Which concerns the rules may voice is a ``RulesPolicy`` (settings ``rules.*``). By default the overlay and the
reviewer are regime-neutral: the regime (with the fusion's gates, fragility among them) shapes a size once, in the
sizing's regime factor, and a position's volatility once, in its volatility step and the book's budget. The rules
that repeated them (no new longs in a panic, a trend long halved in a defensive regime, a high-volatility shrink,
a fragile market shrinking every entry, a risk-off book kept to its top entries) still run when switched on, and
when off the verdict says where the concern is applied instead. The reviewer's crowded-sector check is off by
default too (``rules.review_sectors``): the edge ledger (evals/edge/) found the desk without the reviewer better in
2015-2018, so the reviewer confirms the book by default and says why.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import groupby

from graph.providers.base import ENTRY_ACTIONS, BookEntry, BookSummary, finite
from graph.providers.prompting import render_prompt, weather_fields
from vocab.contracts import BookReview, Proposal, Provenance, Verdict, WeatherSnapshot, WeatherView
from vocab.terms import Action, AgentStyle, Regime

MODEL, PROMPT_VERSION = "rules-v1", "v1"

# weather: a nudge of one level, backed by enough clearly hostile / supportive layers
HOSTILE_SCORE, HOSTILE_COUNT, CALM_REGIMES = -0.3, 3, (Regime.CALM_UPTREND, Regime.RISK_ON_TREND)
SUPPORTIVE_SCORE, SUPPORTIVE_COUNT, DEFENSIVE_REGIMES = 0.3, 4, (Regime.RISK_OFF_TREND, Regime.CHOPPY)
# review: one proposal
PANIC_REGIME = Regime.HIGH_VOL_PANIC
RSI_OVEREXTENDED = 85.0
TREND_SHRINK = 0.5
HIGH_VOL, HIGH_VOL_SHRINK, STOP_DAILY_VOLS, TRADING_DAYS = 0.45, 0.7, 2.0, 252
# review_book: the whole book
FRAGILITY_LIMIT, FRAGILITY_SHRINK = 0.6, 0.75
SECTOR_LIMIT = 3
RISK_OFF_REGIME, RISK_OFF_KEEP = Regime.RISK_OFF_TREND, 2


@dataclass(frozen=True)
class RulesPolicy:
    """The concerns the rules voice; off, a concern is left to the one place that applies it (see the module)."""

    regime_entries: bool = False    # no new longs in a panic; a trend long halved in a defensive regime
    vol_shrink: bool = False        # vol_21d above HIGH_VOL shrinks an entry (its stop is tightened either way)
    review_regime: bool = False     # a risk-off book keeps only its RISK_OFF_KEEP highest-scored entries
    review_fragility: bool = False  # a fragile market shrinks every entry
    review_sectors: bool = False    # a sector with more than SECTOR_LIMIT new entries is evened out (edge ledger: off)
    rsi_veto: bool = False          # an over-extended long (rsi_14 above RSI_OVEREXTENDED) is vetoed

    @classmethod
    def before_issue_18(cls) -> RulesPolicy:
        return cls(regime_entries=True, vol_shrink=True, review_regime=True, review_fragility=True, rsi_veto=True,
                   review_sectors=True)


REGIME_ONCE = "left to the sizing's regime factor (the weather shapes a size once; rules.regime_entries is off)"


@dataclass(frozen=True)
class _Case:
    """One proposal under review, with its regime and a lookup over features then the proposal's inputs."""

    proposal: Proposal
    regime: Regime
    features: Mapping[str, float]
    policy: RulesPolicy = RulesPolicy()

    def value(self, name: str) -> float | None:
        for source in (self.features, self.proposal.inputs):
            number = finite(source.get(name))
            if number is not None:
                return number
        return None

    @property
    def long(self) -> bool:
        return self.proposal.action is Action.BUY_LONG

    def style_is(self, style: AgentStyle) -> bool:
        return self.proposal.style is style


@dataclass(frozen=True)
class _Finding:
    """What one rule says: an objection (veto, size multiplier, tighter stop) or the check it passed."""

    note: str
    objects: bool = False
    veto: bool = False
    multiplier: float = 1.0
    stop: float | None = None


def _panic_long(case: _Case) -> _Finding | None:
    if not case.long:
        return None
    if case.regime == PANIC_REGIME and not case.policy.regime_entries:
        return _Finding(f"regime {PANIC_REGIME}: {REGIME_ONCE}")
    if case.regime == PANIC_REGIME:
        return _Finding(f"no new longs in {PANIC_REGIME}", objects=True, veto=True)
    return _Finding(f"regime {case.regime} is not {PANIC_REGIME}")


def _overextended_long(case: _Case) -> _Finding | None:
    if not case.long:
        return None
    rsi = case.value("rsi_14")
    if rsi is None:
        return _Finding("rsi_14 unavailable")
    if rsi <= RSI_OVEREXTENDED:
        return _Finding(f"rsi_14 {rsi:.1f} <= {RSI_OVEREXTENDED:g}")
    if case.style_is(AgentStyle.MEAN_REVERSION):
        return _Finding(f"rsi_14 {rsi:.1f} > {RSI_OVEREXTENDED:g} accepted from a mean-reversion agent")
    if not case.policy.rsi_veto:
        return _Finding(f"rsi_14 {rsi:.1f} > {RSI_OVEREXTENDED:g}: over-extended, not vetoed (rules.rsi_veto is off: "
                        f"the entries it vetoed did better than those confirmed before 2019)")
    return _Finding(f"rsi_14 {rsi:.1f} > {RSI_OVEREXTENDED:g}: over-extended long", objects=True, veto=True)


def _trend_long_in_defensive_regime(case: _Case) -> _Finding | None:
    if not (case.long and case.style_is(AgentStyle.TREND)):
        return None
    if case.regime in DEFENSIVE_REGIMES and not case.policy.regime_entries:
        return _Finding(f"regime {case.regime}: {REGIME_ONCE}")
    if case.regime in DEFENSIVE_REGIMES:
        return _Finding(f"regime {case.regime} halves a trend long (x{TREND_SHRINK:g})",
                        objects=True, multiplier=TREND_SHRINK)
    return _Finding(f"regime {case.regime} suits a trend long")


def _high_vol_size(case: _Case) -> _Finding | None:
    vol = case.value("vol_21d")
    if vol is None:
        return _Finding("vol_21d unavailable")
    if vol > HIGH_VOL and not case.policy.vol_shrink:
        return _Finding(f"vol_21d {vol:.2f} > {HIGH_VOL:g}: left to the sizing's volatility step and the book's "
                        f"budget (rules.vol_shrink is off)")
    if vol > HIGH_VOL:
        return _Finding(f"vol_21d {vol:.2f} > {HIGH_VOL:g} (x{HIGH_VOL_SHRINK:g})",
                        objects=True, multiplier=HIGH_VOL_SHRINK)
    return _Finding(f"vol_21d {vol:.2f} <= {HIGH_VOL:g}")


def _high_vol_stop(case: _Case) -> _Finding | None:
    vol, close, old = case.value("vol_21d"), case.value("close"), case.proposal.stop
    if vol is None or vol <= HIGH_VOL:
        return None
    if close is None:
        return _Finding("close unavailable: stop left as proposed")
    daily = vol / math.sqrt(TRADING_DAYS)
    sign = -1 if case.long else 1
    stop = round(close * (1 + sign * STOP_DAILY_VOLS * daily), 4)
    tighter = old is None or (stop > old if case.long else stop < old)
    if stop <= 0 or not tighter:
        return _Finding(f"stop {'none' if old is None else f'{old:.2f}'} already within "
                        f"{STOP_DAILY_VOLS:g} daily vols of close {close:.2f}")
    was = "none" if old is None else f"{old:.2f}"
    return _Finding(f"stop tightened {was} -> {stop:.2f} (close {close:.2f} {'-' if case.long else '+'} "
                    f"{STOP_DAILY_VOLS:g} daily vols of {daily:.2%})", objects=True, stop=stop)


ENTRY_RULES: tuple[Callable[[_Case], _Finding | None], ...] = (
    _panic_long, _overextended_long, _trend_long_in_defensive_regime, _high_vol_size, _high_vol_stop,
)


class RulesProvider:
    """Deterministic overlay: explains the weather, reviews proposals and the book by named rules."""

    name = "rules"

    def __init__(self, policy: RulesPolicy | None = None) -> None:
        self.policy = policy or RulesPolicy()

    def weather(self, snapshot: WeatherSnapshot) -> WeatherView:
        started = time.perf_counter()
        nudge, reason = _nudge(snapshot)
        narrative = render_prompt("weather_narrative", {**weather_fields(snapshot), "nudge": reason})
        return WeatherView(narrative=narrative.strip(), regime_nudge=nudge, reason=reason,
                           provenance=_provenance(started))

    def review(self, proposal: Proposal, snapshot: WeatherSnapshot, features: Mapping[str, float]) -> Verdict:
        started = time.perf_counter()
        if proposal.action not in ENTRY_ACTIONS:
            return Verdict(proposal_key=proposal.key, decision="confirm",
                           reason=f"{proposal.action.value} confirmed: exits and holds are never blocked by the overlay",
                           provenance=_provenance(started))
        case = _Case(proposal, snapshot.regime, features, self.policy)
        findings = [f for rule in ENTRY_RULES if (f := rule(case)) is not None]
        vetoes = [f.note for f in findings if f.veto]
        objections = [f for f in findings if f.objects]
        if vetoes:
            return Verdict(proposal_key=proposal.key, decision="veto", size_multiplier=0.0,
                           reason="veto: " + "; ".join(vetoes), provenance=_provenance(started))
        if objections:
            stops = [f.stop for f in objections if f.stop is not None]
            return Verdict(proposal_key=proposal.key, decision="adjust",
                           size_multiplier=round(math.prod(f.multiplier for f in objections), 6),
                           stop=stops[-1] if stops else None,
                           reason="adjust: " + "; ".join(f.note for f in objections),
                           provenance=_provenance(started))
        return Verdict(proposal_key=proposal.key, decision="confirm",
                       reason="no rule objects: " + "; ".join(f.note for f in findings),
                       provenance=_provenance(started))

    def review_book(self, entries: Sequence[BookEntry], snapshot: WeatherSnapshot, book: BookSummary) -> BookReview:
        started = time.perf_counter()
        shrink: dict[str, float] = {}
        veto: dict[str, str] = {}
        p = self.policy
        done = [step for step in (_fragile_market(entries, snapshot, shrink) if p.review_fragility else None,
                                  *(_crowded_sectors(entries, shrink) if p.review_sectors else ()),
                                  _risk_off_top(entries, book, veto) if p.review_regime else None) if step]
        shrink = {symbol: round(m, 6) for symbol, m in shrink.items() if symbol not in veto}
        weather = (f"{_fragility_text(snapshot)}, regime {book.regime}"
                   if p.review_fragility and p.review_regime else
                   f"fragility and regime {book.regime} left to the sizing's regime factor (rules.review_fragility, "
                   f"rules.review_regime off)" if not (p.review_fragility or p.review_regime) else
                   f"{_fragility_text(snapshot) if p.review_fragility else 'fragility left to the regime factor'}, "
                   f"regime {book.regime}{'' if p.review_regime else ' left to the regime factor'}")
        sectors = (_sector_text(entries) if p.review_sectors else
                   "the crowded-sector check is off (rules.review_sectors: the desk without it did better in "
                   "2015-2018, evals/edge/)")
        summary = "; ".join(done) or f"book accepted: {weather}, {sectors}"
        return BookReview(shrink=shrink, veto=veto, summary=summary, provenance=_provenance(started))


def _nudge(snapshot: WeatherSnapshot) -> tuple[int, str]:
    """At most one level: +1 more defensive on enough hostile layers in a calm regime, -1 the other way."""
    scored = {n: layer.score for n, layer in snapshot.layers.items() if layer.available and layer.score is not None}
    hostile = {n: s for n, s in scored.items() if s <= HOSTILE_SCORE}
    supportive = {n: s for n, s in scored.items() if s >= SUPPORTIVE_SCORE}
    if snapshot.regime in CALM_REGIMES and len(hostile) >= HOSTILE_COUNT:
        return 1, (f"one level more defensive: {len(hostile)} available layers score <= {HOSTILE_SCORE:g} "
                   f"({_scores(hostile)}) while the regime is {snapshot.regime}")
    if snapshot.regime in DEFENSIVE_REGIMES and len(supportive) >= SUPPORTIVE_COUNT:
        return -1, (f"one level less defensive: {len(supportive)} available layers score >= {SUPPORTIVE_SCORE:+g} "
                    f"({_scores(supportive)}) while the regime is {snapshot.regime}")
    return 0, (f"no nudge: regime {snapshot.regime} with {len(hostile)} hostile and {len(supportive)} "
               f"supportive of {len(scored)} scored available layers")


def _scores(layers: Mapping[str, float]) -> str:
    return ", ".join(f"{name} {score:+.2f}" for name, score in sorted(layers.items()))


def _fragility(snapshot: WeatherSnapshot) -> float | None:
    value = snapshot.experts.get("fragility")
    return None if isinstance(value, bool) else finite(value)


def _fragility_text(snapshot: WeatherSnapshot) -> str:
    value = _fragility(snapshot)
    return "fragility unavailable" if value is None else f"fragility {value:.2f} <= {FRAGILITY_LIMIT:g}"


def _fragile_market(entries: Sequence[BookEntry], snapshot: WeatherSnapshot, shrink: dict[str, float]) -> str | None:
    fragility = _fragility(snapshot)
    if fragility is None or fragility <= FRAGILITY_LIMIT or not entries:
        return None
    for entry in entries:
        shrink[entry.symbol] = shrink.get(entry.symbol, 1.0) * FRAGILITY_SHRINK
    return f"fragile market (fragility {fragility:.2f} > {FRAGILITY_LIMIT:g}): every new entry x{FRAGILITY_SHRINK:g}"


def _sector_text(entries: Sequence[BookEntry]) -> str:
    """What the crowded-sector check found, and how many entries it could not check (no sector known)."""
    unplaced = sorted(e.symbol for e in entries if not e.sector)
    if entries and len(unplaced) == len(entries):
        return "sector check not run: no new entry has a sector"
    text = f"no sector with more than {SECTOR_LIMIT} new entries"
    return text + (f" ({len(unplaced)} without a sector not checked: {', '.join(unplaced)})" if unplaced else "")


def _crowded_sectors(entries: Sequence[BookEntry], shrink: dict[str, float]) -> list[str]:
    steps = []
    with_sector = sorted((e for e in entries if e.sector), key=lambda e: (e.sector, e.symbol))
    for sector, group in groupby(with_sector, key=lambda e: e.sector):
        members = list(group)
        if len(members) <= SECTOR_LIMIT:
            continue
        factor = SECTOR_LIMIT / len(members)
        for entry in members:
            shrink[entry.symbol] = shrink.get(entry.symbol, 1.0) * factor
        steps.append(f"{len(members)} new entries in {sector} (more than {SECTOR_LIMIT}): "
                     f"each x{factor:.2f} so the sector weighs like {SECTOR_LIMIT}")
    return steps


def _risk_off_top(entries: Sequence[BookEntry], book: BookSummary, veto: dict[str, str]) -> str | None:
    if book.regime != RISK_OFF_REGIME or len(entries) <= RISK_OFF_KEEP:
        return None
    ranked = sorted(entries, key=lambda e: (-e.score, e.symbol))
    for rank, entry in enumerate(ranked[RISK_OFF_KEEP:], start=RISK_OFF_KEEP + 1):
        veto[entry.symbol] = (f"{RISK_OFF_REGIME} keeps only the {RISK_OFF_KEEP} highest-scored new entries; "
                              f"{entry.symbol} scores {entry.score:g} (rank {rank})")
    dropped = ", ".join(e.symbol for e in ranked[RISK_OFF_KEEP:])
    return f"{RISK_OFF_REGIME}: vetoed {dropped}, beyond the top {RISK_OFF_KEEP} by score"


def _provenance(started: float) -> Provenance:
    return Provenance(provider=RulesProvider.name, model=MODEL, prompt_version=PROMPT_VERSION,
                      latency_ms=(time.perf_counter() - started) * 1000, tokens=0)
