"""The layers the edge ledger weighs: each one an ablation spec (``evals.ablation``) and what it takes out, and
whether the configured desk uses it over a range (a layer the desk does not use has no effect to measure, so no
case is run for it, and the ledger says why).

``model:mean_reversion`` is not a layer of its own: the mean-reversion agent's only model, its ablation is the
agent's (``agent:mean_reversion``).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from graph.config import DeskConfig
from graph.errors import DeskError


@dataclass(frozen=True)
class Layer:
    name: str  # the ablation spec
    what: str  # what the ablation takes out


LAYERS: tuple[Layer, ...] = (
    Layer("weather", "regime and weather timing: the seven layers, the expert signals, the fused regime and the "
                     "analyst's nudge (the regime pinned to the most permissive)"),
    Layer("agent:trend", "the trend/momentum agent"),
    Layer("agent:ema", "the EMA crossover agent"),
    Layer("agent:mean_reversion", "the mean-reversion agent and its LightGBM model"),
    Layer("model:regime", "the regime ensemble (GRU + Transformer) in the fusion"),
    Layer("model:health", "asset health (autoencoder): the picks' bar and the health exits"),
    Layer("model:direction", "the direction model (CfC/AutoNCP) on trend longs"),
    Layer("model:vol_state", "the HMM volatility state: Kelly's share by state (the unknown-state share instead)"),
    Layer("model:garch", "the GARCH(1,1) forecasts: sizing targets realised volatility instead"),
    Layer("overlay", "the per-proposal overlay: every proposal confirmed as proposed (ML only)"),
    Layer("trust", "the agents' trust weights: equal weights, no Thompson draw"),
    Layer("kelly", "Kelly sizing (and the RL tiers above it): the base weight, the tier below"),
    Layer("rl", "the RL sizer: Kelly, the tier below"),
    Layer("budget", "the book's risk budget: the entries keep their cascade sizes"),
    Layer("risk", "the book-level risk reviewer (the hard rules keep the last word)"),
    Layer("tiers", "the profit tiers: no trims at 1R … 8R"),
    Layer("exits", "the trailing exits: the stop stays the initial stop"),
    Layer("moonshot", "the moonshot track"),
)
BY_NAME: Mapping[str, Layer] = {layer.name: layer for layer in LAYERS}
ALWAYS = "always in the night"


def choose(names: Sequence[str] | None) -> tuple[Layer, ...]:
    """The layers named (all when None or empty); an unknown name is a one-line DeskError with a hint."""
    if not names:
        return LAYERS
    out = []
    for raw in names:
        name = raw.strip().lower()
        if name not in BY_NAME:
            hint = difflib.get_close_matches(name, list(BY_NAME), n=1)
            more = f" (did you mean {hint[0]}?)" if hint else ""
            raise DeskError(f"unknown layer {raw!r}{more}; layers: {', '.join(BY_NAME)}")
        if BY_NAME[name] not in out:
            out.append(BY_NAME[name])
    return tuple(out)


def usage(config: DeskConfig, usable: Mapping[str, str | None]) -> dict[str, tuple[bool, str]]:
    """Per layer: whether the desk uses it, and why (not). ``usable``: model -> None when usable on some retrain
    block of the range, else why it never is (``evals.case.prepare_case``)."""
    s = config.sizing
    kelly_off = "sizing.mode = fixed: the base weight sizes every entry" if s.mode == "fixed" else None

    def model(name: str, needs_kelly: bool = False) -> tuple[bool, str]:
        if needs_kelly and kelly_off:
            return False, f"{kelly_off}, nothing reads {name}"
        if name not in usable:
            return False, f"{name} was not asked about (no night in the range)"
        why = usable[name]
        return (True, f"{name} decides on some nights") if why is None else (False, f"never usable: {why}")

    rl_on = s.mode in ("cascade", "rl")
    out = {
        "weather": (True, ALWAYS), "overlay": (True, ALWAYS), "risk": (True, ALWAYS),
        "agent:trend": (True, ALWAYS), "agent:ema": (True, ALWAYS),
        "agent:mean_reversion": model("mean_reversion"),
        "model:regime": model("regime"), "model:health": model("health"), "model:direction": model("direction"),
        "model:vol_state": model("vol_state", needs_kelly=True), "model:garch": model("garch", needs_kelly=True),
        "trust": (config.trust.mode == "thompson", f"trust.mode = {config.trust.mode}"),
        "kelly": (True, f"sizing.mode = {s.mode}") if not kelly_off else (False, kelly_off),
        "rl": model("rl_sizer") if rl_on else (False, f"sizing.mode = {s.mode}: the RL sizer never sizes"),
        "budget": (s.budget != "off", f"sizing.budget = {s.budget}"),
        "tiers": (bool(config.risk.profit_tiers), f"risk.profit_tiers = {list(config.risk.profit_tiers)}"),
        "exits": (config.risk.trailing_exits, f"risk.trailing_exits = {str(config.risk.trailing_exits).lower()}"),
        "moonshot": (config.moonshot.enabled, f"moonshot.enabled = {str(config.moonshot.enabled).lower()}"),
    }
    return out
