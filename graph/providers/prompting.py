"""The prompt contract: the fields each template receives, and how a weather snapshot becomes those fields."""

from __future__ import annotations

import json
from collections.abc import Mapping
from string import Template

import prompts
from prompts.catalog import PROMPTS, spec
from vocab.contracts import WEATHER_LAYERS, WeatherSnapshot

# The fields each prompt template receives (``string.Template`` placeholders) live beside the templates, in
# ``prompts.catalog``; tests hold the files to it. This is the first version's, by prompt name.
PROMPT_FIELDS: Mapping[str, frozenset[str]] = {name: spec.fields for (name, version), spec in PROMPTS.items()
                                               if version == "v1"}
OPEN, CLOSE = "<data>", "</data>"


def render_prompt(name: str, fields: Mapping[str, object], version: str = "v1") -> str:
    """Render ``prompts/<name>.<version>.md`` with exactly its placeholders; a missing or stray field is an error."""
    spec(name, version)
    template = Template(prompts.load(name, version))
    wanted, given = set(template.get_identifiers()), set(fields)
    if wanted != given:
        raise ValueError(f"prompt {name}.{version}: missing fields {sorted(wanted - given)}, "
                         f"unexpected fields {sorted(given - wanted)}")
    return template.substitute({key: str(value) for key, value in fields.items()})


def weather_fields(snapshot: WeatherSnapshot) -> dict[str, str]:
    """The snapshot as prompt fields: available layers with state and score, unavailable ones with their source."""
    names = [n for n in WEATHER_LAYERS if n in snapshot.layers]
    names += sorted(set(snapshot.layers) - set(WEATHER_LAYERS))
    available, unavailable = [], []
    for name in names:
        layer = snapshot.layers[name]
        if not layer.available:
            unavailable.append(f"{name} unavailable (source: {layer.source})")
            continue
        score = "no score" if layer.score is None else f"{layer.score:+.2f}"
        available.append(f"{name}: {layer.state or 'no state'} ({score})")
    experts = [f"{key} {_expert(value)}" for key, value in sorted(snapshot.experts.items())]
    return {
        "as_of": snapshot.as_of.isoformat(),
        "regime": snapshot.regime,
        "base_regime": snapshot.base_regime,
        "sizing_modifier": f"{snapshot.sizing_modifier:.2f}",
        "risk_throttle": f"{snapshot.risk_throttle:.2f}",
        "layers": "; ".join(available) or "none",
        "unavailable": "; ".join(unavailable) or "none",
        "experts": ", ".join(experts) or "none",
        "notes": "; ".join(snapshot.notes) or "none",
    }


def _expert(value: float | bool | None) -> str:
    if value is None:
        return "unavailable"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return f"{value:.2f}"


def delimited(value: object) -> str:
    """``value`` as JSON between ``<data>`` and ``</data>``: text from data (symbols, rationales, notes, an
    operator's words) reaches a prompt only this way. ``<``, ``>`` and ``&`` are escaped inside it, so nothing in
    the data can close the block and speak as the prompt."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False,
                      default=str)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f"{OPEN}{text}{CLOSE}"


def split_prompt(text: str) -> tuple[str, str]:
    """A rendered prompt as (system, user): the ``## System`` section, and everything after it."""
    head, marker, rest = text.partition("## Instructions")
    system = head.replace("## System", "", 1).strip()
    return system, (marker + rest).strip()
