"""Overlay providers: the interface, the deterministic rules provider, the fallback wrapper and the factory."""

from graph.providers.base import BookEntry, BookSummary, OverlayProvider
from graph.providers.fallback import FallbackProvider, InvalidOutput, bound_book_review, enforce_bounds, with_fallback
from graph.providers.prompting import PROMPT_FIELDS, render_prompt, weather_fields
from graph.providers.factory import make_provider
from graph.providers.rules import RulesPolicy, RulesProvider

__all__ = [
    "PROMPT_FIELDS",
    "BookEntry",
    "BookSummary",
    "FallbackProvider",
    "InvalidOutput",
    "OverlayProvider",
    "RulesPolicy",
    "RulesProvider",
    "bound_book_review",
    "enforce_bounds",
    "make_provider",
    "render_prompt",
    "weather_fields",
    "with_fallback",
]
