"""The LLM adapters at the edge: a LangChain chat model per role, built from its resolved settings.

Keys and endpoints come from the SDKs' own variables (``OPENAI_API_KEY``, ``OPENAI_BASE_URL``, ``ANTHROPIC_API_KEY``,
``ANTHROPIC_BASE_URL``), read by the SDK clients themselves: they never pass through the desk's settings, state, store
or reports. ``check`` refuses, in one line and before any run, a provider that cannot start.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from difflib import get_close_matches

from langchain_core.language_models import BaseChatModel

from graph.config import Price, ResolvedRole
from graph.providers.llm.errors import ProviderUnavailable

KEY_VARIABLES: Mapping[str, str] = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
URL_VARIABLES: Mapping[str, str] = {"openai": "OPENAI_BASE_URL", "anthropic": "ANTHROPIC_BASE_URL"}


def check(role: ResolvedRole, prices: Mapping[str, Price], environ: Mapping[str, str] | None = None) -> None:
    """A role's provider can start: its key is set and its model has a price (so its spend can be capped)."""
    env = os.environ if environ is None else environ
    key = KEY_VARIABLES.get(role.provider)
    if key is None:
        raise ProviderUnavailable(f"llm.{role.role}: provider {role.provider!r} is not an LLM provider")
    if not env.get(key, "").strip():
        where = f" (the server at {env[URL_VARIABLES[role.provider]]})" if env.get(URL_VARIABLES[role.provider]) else ""
        raise ProviderUnavailable(f"llm provider {role.provider} for the {role.role} role needs {key}{where}: set it, "
                                  f"or set llm.provider = \"rules\" (a local server that needs no key takes any "
                                  f"value, e.g. {key}=local)")
    if role.model not in prices:
        close = get_close_matches(role.model, list(prices), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ProviderUnavailable(
            f"unknown model {role.model!r} for the {role.role} role{hint}: llm.prices has no price for it, so its "
            f"spend cannot be capped; name a priced model or add [llm.prices.\"{role.model}\"] with "
            f"input_usd_per_mtok and output_usd_per_mtok (0 for a local server)")


def chat_model(role: ResolvedRole) -> BaseChatModel:
    """The LangChain chat model for one role (the SDK reads its key and base URL from the environment)."""
    if role.provider == "openai":
        from langchain_openai import ChatOpenAI

        # Chat Completions, not the Responses API: what OpenAI-compatible servers (Ollama, vLLM, llama.cpp) speak.
        return ChatOpenAI(model=role.model, timeout=role.timeout_s, max_retries=role.max_retries,
                          max_tokens=role.max_tokens, temperature=0, use_responses_api=False)
    if role.provider == "anthropic":
        from langchain_anthropic import ChatAnthropic

        return ChatAnthropic(model=role.model, timeout=role.timeout_s, max_retries=role.max_retries,
                             max_tokens=role.max_tokens, temperature=0)
    raise ProviderUnavailable(f"llm.{role.role}: provider {role.provider!r} has no chat model")
