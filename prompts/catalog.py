"""The prompt catalog: for each template (``prompts/<name>.<version>.md``), the role that uses it, the fields it
receives (its ``string.Template`` placeholders) and the schema the model answers in (``prompts.schemas``).

A new version of a prompt is a new file and a new row here; ``llm.prompt_versions`` picks one per role.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import BaseModel

from prompts.schemas import BookAnswer, OverlayAnswer, SingleVerdict, WeatherAnswer


@dataclass(frozen=True)
class PromptSpec:
    name: str
    version: str
    role: str | None  # None: a template the desk renders for itself (the rules narrative), never sent to a model
    fields: frozenset[str]
    schema: type[BaseModel] | None


_WEATHER = frozenset({"as_of", "regime", "base_regime", "sizing_modifier", "risk_throttle", "layers", "unavailable",
                      "experts", "notes"})
PROMPTS: Mapping[tuple[str, str], PromptSpec] = {
    (s.name, s.version): s for s in (
        PromptSpec("weather_narrative", "v1", None, _WEATHER | {"nudge"}, None),
        PromptSpec("weather_analyst", "v1", "weather", _WEATHER | {"regime_ladder"}, WeatherAnswer),
        PromptSpec("overlay", "v1", "overlay", frozenset(
            {"as_of", "symbol", "action", "agent", "model_version", "strength", "confidence", "horizon_days", "stop",
             "rationale", "inputs", "features", "regime", "weather", "track_record", "reversal"}), SingleVerdict),
        PromptSpec("overlay_batch", "v1", "overlay", frozenset(
            {"as_of", "regime", "weather", "proposals", "count", "reversal"}), OverlayAnswer),
        # v2: the same fields and answer; weighs the track record first and prefers shrinking to vetoing on mixed
        # evidence (written a priori, before any score; compare it to v1 with `desk eval prompts --prompt v1,v2`)
        PromptSpec("overlay_batch", "v2", "overlay", frozenset(
            {"as_of", "regime", "weather", "proposals", "count", "reversal"}), OverlayAnswer),
        PromptSpec("risk_reviewer", "v1", "risk", frozenset(
            {"as_of", "regime", "equity", "cash", "held", "entries", "experts", "weather"}), BookAnswer),
        PromptSpec("chat", "v1", "chat", frozenset({"as_of", "data_from", "data_until"}), None),
    )
}


def spec(name: str, version: str) -> PromptSpec:
    """The catalog row of one prompt version; a one-line error naming the versions there are."""
    try:
        return PROMPTS[(name, version)]
    except KeyError:
        have = sorted(v for n, v in PROMPTS if n == name)
        raise ValueError(f"no prompt {name}.{version}: "
                         + (f"versions are {', '.join(have)}" if have else "no such prompt")) from None


def versions(name: str) -> list[str]:
    return sorted(v for n, v in PROMPTS if n == name)
