"""Overlay providers: the interface, the deterministic rules provider, the fallback wrapper and the factory."""

from graph.providers.base import (
    PROMPT_FIELDS,
    BookEntry,
    BookSummary,
    FallbackProvider,
    InvalidOutput,
    OverlayProvider,
    bound_book_review,
    enforce_bounds,
    render_prompt,
    weather_fields,
    with_fallback,
)
from graph.providers.factory import make_provider
from graph.providers.rules import RulesProvider

__all__ = [
    "PROMPT_FIELDS",
    "BookEntry",
    "BookSummary",
    "FallbackProvider",
    "InvalidOutput",
    "OverlayProvider",
    "RulesProvider",
    "bound_book_review",
    "enforce_bounds",
    "make_provider",
    "render_prompt",
    "weather_fields",
    "with_fallback",
]
