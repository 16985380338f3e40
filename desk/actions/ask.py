"""`ask`: a free question answered by the chat agent (graph/chat.py), a tool-calling LLM over the desk's record and
the agent and model tools. It only reads. Without an LLM provider it is refused in one line."""

from __future__ import annotations

from desk.core.args import AskArgs
from desk.core.context import CommandContext
from desk.results import AskResult
from graph.errors import DeskError


def ask(ctx: CommandContext, args: AskArgs) -> AskResult:
    from graph.chat import ask as ask_agent
    from graph.chat import read_tools
    from graph.config import secret_values
    from graph.providers.factory import chat_ready
    from graph.providers.llm.errors import LLMFailure
    from graph.providers.llm.exchange import Exchanger
    from graph.redact import Redactor, env_secrets
    from models.registry import ModelRegistry
    from tools.agents import AgentToolkit
    from tools.market import MarketView

    s, store = ctx.settings, ctx.store
    chat_ready(s)
    market = MarketView(store, tuple(s.data.universe), s.data.benchmark, cache_dir=s.cache_dir)
    sessions = market.sessions
    if not len(sessions):
        raise DeskError("the store holds no market data; run `desk data load` (or `desk run`) first")
    latest = store.latest_night(finished=True)
    exchanger = Exchanger(s.llm, store, redact=Redactor([*secret_values(s), *env_secrets()]))
    toolkit = AgentToolkit.from_config(s, market, ModelRegistry(s.models_dir, promotion=s.models.promotion))
    role = s.llm.role("chat")
    ctx.progress(f"asking {role.provider} {role.model}")
    try:
        out = ask_agent(args.question, exchanger=exchanger, tools=read_tools(store, toolkit),
                        as_of=latest or sessions[-1].date(), data_from=sessions[0].date(),
                        data_until=sessions[-1].date())
    except LLMFailure as failure:
        raise DeskError(f"the chat model gave no answer: {failure.reason}") from None
    return AskResult(question=args.question, answer=out.answer, tools_used=list(out.tools_used), turns=out.turns,
                     provider=role.provider, model=role.model)
