"""One factory for overlay providers, chosen by configuration (ARCHITECTURE.md: Contracts): ``rules`` (the default,
offline), or an LLM provider (``openai``, ``anthropic``) per role, wrapped with the rules fallback.

A configured provider that cannot start (no key, a model with no price) is a one-line ``ProviderUnavailable`` here,
before any run writes anything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from difflib import get_close_matches

from graph.config import ROLES, DeskConfig
from graph.providers.base import OverlayProvider
from graph.providers.fallback import with_fallback
from graph.providers.rules import RulesPolicy, RulesProvider
from graph.redact import Redactor
from memory.store import Store
from prompts.catalog import spec

# Providers built by name alone (tests register scripted ones); the LLM providers need the desk's settings.
LLM_PROVIDERS: dict[str, Callable[[], OverlayProvider]] = {}
CONFIGURED = ("anthropic", "openai")
NIGHT_ROLES = ("weather", "overlay", "risk")
PROMPTS_OF: Mapping[str, Callable[..., tuple[str, ...]]] = {
    "weather": lambda llm: ("weather_analyst",),
    "overlay": lambda llm: ("overlay_batch",) if llm.overlay.calls == "per_night" else ("overlay",),
    "risk": lambda llm: ("risk_reviewer",),
}


def make_provider(name: str) -> OverlayProvider:
    """``rules`` as is; a registered provider wrapped with the rules fallback; anything else a one-line error."""
    key = name.strip().lower()
    if key == RulesProvider.name:
        return RulesProvider()
    if key in LLM_PROVIDERS:
        return with_fallback(LLM_PROVIDERS[key](), RulesProvider())
    if key in CONFIGURED:
        raise ValueError(f"provider {key!r} is built from the desk's settings: set llm.provider = {key!r} "
                         f"(or DESK_LLM__PROVIDER={key})")
    known = [RulesProvider.name, *LLM_PROVIDERS, *CONFIGURED]
    close = get_close_matches(key, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ValueError(f"unknown provider {name!r}{hint}; choose one of: {', '.join(known)}")


def provider_for(config: DeskConfig, *, store: Store, market=None, record: Store | None = None,
                 redact: Redactor | None = None, models: Callable | None = None,
                 environ: Mapping[str, str] | None = None) -> OverlayProvider:
    """The desk's provider from its settings. ``store`` holds the desk's decisions (its track record is read from
    it); ``record`` holds the LLM exchanges (default: ``store``; a replay passes the live desk's store, so what a
    replay asks is kept for the next one)."""
    llm = config.llm
    rules = RulesProvider(rules_policy(config))
    if not any(llm.role(r).provider != "rules" for r in NIGHT_ROLES):
        return rules
    from graph.providers.llm.clients import chat_model, check
    from graph.providers.llm.errors import ProviderUnavailable
    from graph.providers.llm.exchange import Exchanger
    from graph.providers.llm.provider import LLMProvider
    from memory.track_record import TrackRecord

    for role in NIGHT_ROLES:
        resolved = llm.role(role)
        if resolved.provider == "rules":
            continue
        for prompt in PROMPTS_OF[role](llm):
            try:
                spec(prompt, resolved.prompt_version)
            except ValueError as exc:
                raise ProviderUnavailable(f"llm.prompt_versions.{role}: {exc}") from None
        if llm.replay != "only":  # served from the record, a replay needs no key and spends nothing
            check(resolved, llm.prices, environ)
    exchanger = Exchanger(llm, record or store, redact=redact, models=models or chat_model)

    def track_record() -> TrackRecord | None:
        if market is None:
            return None
        return TrackRecord(store, market.close.reindex(market.sessions), llm.track_record_sessions)

    return with_fallback(LLMProvider(llm, exchanger, track_record, rules=rules), rules)


def rules_policy(config: DeskConfig) -> RulesPolicy:
    """The rules provider's policy from ``rules.*``."""
    r = config.rules
    return RulesPolicy(regime_entries=r.regime_entries, vol_shrink=r.vol_shrink, review_regime=r.review_regime, review_sectors=r.review_sectors,
                       review_fragility=r.review_fragility, rsi_veto=r.rsi_veto)


def chat_ready(config: DeskConfig, environ: Mapping[str, str] | None = None) -> None:
    """The chat role can start (``desk ask``): an LLM provider with its key and a priced model."""
    from graph.providers.llm.clients import check
    from graph.providers.llm.errors import ProviderUnavailable

    role = config.llm.role("chat")
    if role.provider == "rules":
        raise ProviderUnavailable("desk ask needs an LLM provider: set llm.provider (or llm.chat.provider) to "
                                  "\"openai\" or \"anthropic\", e.g. DESK_LLM__PROVIDER=openai")
    check(role, config.llm.prices, environ)


__all__ = ["CONFIGURED", "LLM_PROVIDERS", "ROLES", "chat_ready", "make_provider", "provider_for"]
