"""Orders in broker units (issue 19): the night fixes each order's quantity in the units its broker accepts.

An entry is rounded down (less exposure, never past a cap the hard rules set) and is denied, with the reason, when
nothing is left or what is left is below the broker's or the desk's minimum order. A partial sell is rounded up
(less exposure), never beyond the holding; a sell of the whole holding is left as it is (a position bought in other
units must still be closable). The rounding is its own factor in the reason chain.
"""

from __future__ import annotations

from dataclasses import dataclass

from brokers.base import QuantityRules
from vocab.contracts import Denial, SizingFactor

_EPS = 1e-9


@dataclass(frozen=True)
class EntryUnits:
    """An entry in broker units: its quantity and weight, the factor the rounding adds (None when the quantity
    already was in units), or the denial when no order is left."""

    quantity: float
    weight: float
    factor: SizingFactor | None = None
    denial: Denial | None = None


def entry_in_units(quantity: float, weight: float, price: float, rules: QuantityRules,
                   min_order_value: float) -> EntryUnits:
    """``quantity`` (at ``price``, ``weight`` of equity) rounded down to ``rules``; denied when too small."""
    units = rules.floor(quantity)
    shares = "share" if units == 1 and rules.decimals == 0 else "shares"
    if units <= 0:
        return EntryUnits(0.0, 0.0, denial=Denial(
            rule="broker_units", reason=f"{quantity:.4g} shares round down to none in the broker's units "
                                        f"({rules.describe()})"))
    refused = rules.refusal(units, price)
    if refused:
        return EntryUnits(0.0, 0.0, denial=Denial(rule="broker_units", reason=refused))
    if units * price < min_order_value:
        return EntryUnits(0.0, 0.0, denial=Denial(
            rule="min_order", reason=f"order value {units * price:,.2f} ({rules.text(units)} {shares} in the "
                                     f"broker's units) is below the minimum {min_order_value:,.2f}"))
    if units == quantity:
        return EntryUnits(units, weight)
    after = weight * units / quantity
    return EntryUnits(units, after, factor=SizingFactor(
        name="broker_units", multiplier=units / quantity, weight_after=after,
        reason=f"{quantity:.4f} rounded down to {rules.text(units)} {shares} ({rules.describe()} at the broker)"))


@dataclass(frozen=True)
class SellUnits:
    quantity: float
    note: str | None = None


def sell_in_units(quantity: float, held: float, rules: QuantityRules) -> SellUnits:
    """A sell of ``quantity`` of a ``held`` position in broker units: the whole holding as it is, a part rounded up
    (less exposure) and never past the holding."""
    if quantity >= held - _EPS:
        return SellUnits(held)
    units = min(rules.ceil(quantity), held)
    if units == quantity:
        return SellUnits(units)
    whole = " (the whole holding)" if units == held else ""
    return SellUnits(units, f"broker units: {quantity:.4f} rounded up to {rules.text(units)}{whole} "
                            f"({rules.describe()} at the broker)")
