"""The hard risk rules: the last word on every new entry (ARCHITECTURE.md: invariant 1, invariant 5). They fail closed.

Nothing upstream (a verdict, a prompt, a chat command, a model) can make an entry larger than these
caps or open one they forbid. Every entry that is blocked or shrunk carries the rule and why.

Order: halted → stale data → invalid input → already held → max positions (highest score first)
→ per-position weight clip → cash reserve by regime (pro rata) → gross exposure (pro rata) → min order.
Invalid weights/prices are screened before ranking so a NaN never takes a position slot or poisons a sum.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from vocab.contracts import Denial


@dataclass(frozen=True)
class RiskLimits:
    max_positions: int
    max_weight: float
    max_gross: float
    min_order_value: float
    cash_reserve: Mapping[str, float]

    def __post_init__(self) -> None:
        if not (isinstance(self.max_positions, numbers.Integral) and self.max_positions >= 0):
            raise ValueError(f"max_positions must be a non-negative integer, got {self.max_positions!r}")
        if not (math.isfinite(self.max_weight) and 0 < self.max_weight <= 1):
            raise ValueError(f"max_weight must be in (0, 1], got {self.max_weight!r}")
        if not (math.isfinite(self.max_gross) and self.max_gross > 0):
            raise ValueError(f"max_gross must be a positive number, got {self.max_gross!r}")
        if not (math.isfinite(self.min_order_value) and self.min_order_value >= 0):
            raise ValueError(f"min_order_value must be >= 0, got {self.min_order_value!r}")
        bad = {k: v for k, v in self.cash_reserve.items() if not (math.isfinite(v) and 0 <= v < 1)}
        if bad:
            raise ValueError(f"cash_reserve values must be in [0, 1); bad: {bad}")


@dataclass(frozen=True)
class EntryCandidate:
    symbol: str
    weight: float
    price: float
    score: float


@dataclass(frozen=True)
class BookView:
    equity: float
    cash: float
    positions: Mapping[str, float]  # symbol → market value


@dataclass(frozen=True)
class ApprovedEntry:
    symbol: str
    weight: float
    quantity: float
    notional: float
    clipped_by: list[Denial] = field(default_factory=list)


def _ok(x: float) -> bool:
    try:
        return math.isfinite(x)
    except TypeError:
        return False


def _book_problem(book: BookView, regime: str, limits: RiskLimits) -> str | None:
    if not (_ok(book.equity) and book.equity > 0):
        return f"book equity {book.equity!r} is not a positive number"
    if not _ok(book.cash):
        return f"book cash {book.cash!r} is not a number"
    bad = sorted(s for s, v in book.positions.items() if not _ok(v))
    if bad:
        return f"market value unknown for {', '.join(bad)}: gross exposure cannot be checked"
    if regime not in limits.cash_reserve:
        return f"unknown regime {regime!r}: no cash reserve defined (known: {', '.join(limits.cash_reserve)})"
    return None


def _held(book: BookView) -> set[str]:
    return {s for s, v in book.positions.items() if v != 0}


def _below(cap: float, base: float = 0.0) -> float:
    """The largest room r with base + r <= cap in floating point (0 when there is none)."""
    room = cap - base
    while room > 0 and base + room > cap:
        room = math.nextafter(room, 0.0)
    return max(0.0, room)


def _fit(weights: list[float], equity: float, cap: float) -> float:
    """A scale s in [0, 1] with sum(w·s·equity) <= cap exactly as computed."""
    total = sum(w * equity for w in weights)
    if total <= cap:
        return 1.0
    scale = cap / total if cap > 0 and total > 0 else 0.0
    while scale > 0 and sum((w * scale) * equity for w in weights) > cap:
        scale = math.nextafter(scale, 0.0)
    return scale


def apply_hard_rules(candidates: Sequence[EntryCandidate], book: BookView, regime: str, limits: RiskLimits,
                     halted: bool, halt_reason: str | None,
                     stale: Mapping[str, str]) -> tuple[list[ApprovedEntry], dict[str, list[Denial]]]:
    """Approve, shrink or deny new entries. Returns (approved, denials by symbol); fails closed."""
    denied: dict[str, list[Denial]] = {}

    def deny(symbol: str, rule: str, reason: str, prior: Sequence[Denial] = ()) -> None:
        denied.setdefault(symbol, []).extend([*prior, Denial(rule=rule, reason=reason)])

    cands = list(candidates)
    if halted:
        for c in cands:
            deny(c.symbol, "halted", f"desk is halted ({halt_reason or 'no reason recorded'}): no new entries")
        return [], denied
    if "*" in stale:
        for c in cands:
            deny(c.symbol, "stale_data", f"all market data is stale ({stale['*']}): no new entries")
        return [], denied
    problem = _book_problem(book, regime, limits)
    if problem:
        for c in cands:
            deny(c.symbol, "invalid", f"{problem}; failing closed")
        return [], denied

    held = _held(book)
    live: list[EntryCandidate] = []
    for c in cands:
        if c.symbol in stale:
            deny(c.symbol, "stale_data", f"data for {c.symbol} is stale: {stale[c.symbol]}")
        elif not (_ok(c.weight) and c.weight >= 0):
            deny(c.symbol, "invalid", f"weight {c.weight!r} is not a finite non-negative number")
        elif not (_ok(c.price) and c.price > 0):
            deny(c.symbol, "invalid", f"price {c.price!r} is not a finite positive number")
        elif c.symbol in held:
            deny(c.symbol, "already_held", f"{c.symbol} is already held; a new entry would add to it")
        else:
            live.append(c)

    ranked = sorted(live, key=lambda c: (-(c.score if _ok(c.score) else -math.inf), c.symbol))
    slots = max(0, limits.max_positions - len(held))
    chosen: list[EntryCandidate] = []
    for c in ranked:
        if any(k.symbol == c.symbol for k in chosen):
            deny(c.symbol, "duplicate", f"another {c.symbol} candidate with a higher score was kept")
        elif len(chosen) < slots:
            chosen.append(c)
        elif slots == 0:
            deny(c.symbol, "max_positions", f"book already holds {len(held)} positions; the cap is"
                 f" {limits.max_positions}: no free slot")
        else:
            deny(c.symbol, "max_positions", f"book holds {len(held)} of {limits.max_positions} positions;"
                 f" the {slots} free slot(s) went to higher scores (score {c.score!r})")

    weights: list[float] = []
    clips: list[list[Denial]] = []
    for c in chosen:
        notes = []
        if c.weight > limits.max_weight:
            notes.append(Denial(rule="max_weight",
                                reason=f"weight {c.weight:.4g} clipped to the {limits.max_weight:.0%} per-position cap"))
        weights.append(min(c.weight, limits.max_weight))
        clips.append(notes)

    equity, reserve = book.equity, limits.cash_reserve[regime]
    available = _below(book.cash - reserve * book.equity)
    gross = sum(abs(v) for v in book.positions.values())
    room = _below(limits.max_gross * equity, gross)
    for rule, cap, what in (
        ("cash_reserve", available, f"cash {book.cash:,.2f} less the {reserve:.0%} {regime} reserve"),
        ("max_gross", room, f"gross room {limits.max_gross:.0%} of equity less {gross:,.2f} held"),
    ):
        scale = _fit(weights, equity, cap)
        if scale >= 1.0:
            continue
        asked = sum(w * equity for w in weights)
        if scale <= 0.0:
            for c, notes in zip(chosen, clips, strict=True):
                deny(c.symbol, rule, f"no room for new entries: {what} = {cap:,.2f}", prior=notes)
            return [], denied
        note = Denial(rule=rule, reason=f"new notional {asked:,.2f} exceeds {what} = {cap:,.2f};"
                                        f" entries scaled pro rata by {scale:.4f}")
        weights = [w * scale for w in weights]
        for notes in clips:
            notes.append(note)

    approved: list[ApprovedEntry] = []
    for c, w, notes in zip(chosen, weights, clips, strict=True):
        notional = w * equity
        if notional <= 0 or notional < limits.min_order_value:
            deny(c.symbol, "min_order", f"order value {notional:,.2f} is below the minimum"
                 f" {limits.min_order_value:,.2f}", prior=notes)
        elif not (_ok(notional / c.price) and notional / c.price > 0):
            deny(c.symbol, "invalid", f"quantity {notional:,.2f} / {c.price!r} is not a finite positive number",
                 prior=notes)
        else:
            approved.append(ApprovedEntry(symbol=c.symbol, weight=w, quantity=notional / c.price,
                                          notional=notional, clipped_by=notes))
    return approved, denied


def check_exposure(book: BookView, limits: RiskLimits, regime: str) -> list[Denial]:
    """Every way the current book breaches the limits (empty when it is within them)."""
    problem = _book_problem(book, regime, limits)
    if problem:
        return [Denial(rule="invalid", reason=problem)]
    out: list[Denial] = []
    held = _held(book)
    if len(held) > limits.max_positions:
        out.append(Denial(rule="max_positions",
                          reason=f"book holds {len(held)} positions; the cap is {limits.max_positions}"))
    for s in sorted(held):
        w = abs(book.positions[s]) / book.equity
        if w > limits.max_weight:
            out.append(Denial(rule="max_weight", reason=f"{s} is {w:.1%} of equity; the cap is {limits.max_weight:.0%}"))
    gross = sum(abs(v) for v in book.positions.values())
    if gross > limits.max_gross * book.equity:
        out.append(Denial(rule="max_gross", reason=f"gross exposure {gross / book.equity:.1%} of equity;"
                                                   f" the cap is {limits.max_gross:.0%}"))
    reserve = limits.cash_reserve[regime]
    if book.cash < reserve * book.equity:
        out.append(Denial(rule="cash_reserve", reason=f"cash {book.cash / book.equity:.1%} of equity is below the"
                                                      f" {reserve:.0%} reserve for {regime}"))
    return out
