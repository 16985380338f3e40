"""One factory for overlay providers, chosen by name from configuration (DESIGN §4)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from difflib import get_close_matches

from graph.providers.base import OverlayProvider
from graph.providers.fallback import with_fallback
from graph.providers.rules import RulesProvider

# LLM providers register here as later issues add them; each is wrapped with the rules fallback.
LLM_PROVIDERS: Mapping[str, Callable[[], OverlayProvider]] = {}
PLANNED = ("anthropic", "openai")


def make_provider(name: str) -> OverlayProvider:
    """``rules`` as is; an LLM provider wrapped with the rules fallback; anything else a one-line error."""
    key = name.strip().lower()
    if key == RulesProvider.name:
        return RulesProvider()
    if key in LLM_PROVIDERS:
        return with_fallback(LLM_PROVIDERS[key](), RulesProvider())
    if key in PLANNED:
        raise ValueError(f"provider {key!r} is not available yet; use 'rules'")
    known = [RulesProvider.name, *LLM_PROVIDERS, *PLANNED]
    close = get_close_matches(key, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ValueError(f"unknown provider {name!r}{hint}; choose one of: {', '.join(known)}")
