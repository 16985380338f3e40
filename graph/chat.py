"""The chat path (ARCHITECTURE.md: the flow of a day): a LangGraph tool-calling agent that answers an operator's
questions from the record.

Its tools only read: the stored proposals, verdicts, intents, orders, fills, runs and book (``memory``), and the agent
tools' readings for a date (``tools.agents``). It cannot trade or override. Every model turn goes through the
``Exchanger``: recorded, capped by the budget, replayable. The number of model turns is bounded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import BaseTool, StructuredTool
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from pydantic import BaseModel, Field

from graph.providers.llm.exchange import Exchanger
from graph.providers.prompting import delimited, render_prompt, split_prompt
from memory.store import Store
from memory.why import NotFound, reason_chain
from tools.agents import AgentToolkit

MAX_TURNS = 6
MAX_ROWS = 20


class ChatState(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]
    turns: int


@dataclass(frozen=True)
class ChatAnswer:
    answer: str
    tools_used: tuple[str, ...]
    turns: int


# ---------------------------------------------------------------------- read-only tools
class SymbolDate(BaseModel):
    symbol: str | None = Field(None, description="a ticker, e.g. XOM; empty for every symbol")
    as_of: date | None = Field(None, description="a night's date YYYY-MM-DD; empty for the latest")


class Target(BaseModel):
    target: str = Field(description="an intent id, or a symbol for its latest intent")


class Readings(BaseModel):
    as_of: date = Field(description="decision date YYYY-MM-DD")
    symbols: list[str] = Field(description="tickers to read")


def _json(value: Any) -> str:
    return json.dumps(value, default=str, separators=(",", ":"))


def read_tools(store: Store, toolkit: AgentToolkit | None = None) -> list[BaseTool]:
    """The chat agent's tools over one store (and the agent tools, when given): each returns JSON."""

    def intents(symbol: str | None = None, as_of: date | None = None) -> str:
        rows = [r for r in store.intents(as_of=as_of) if symbol is None or r.symbol == symbol.upper()]
        rows = sorted(rows, key=lambda r: (r.as_of, r.intent_id))[-MAX_ROWS:]
        return _json([r.model_dump(mode="json", include={"intent_id", "as_of", "symbol", "side", "kind", "quantity",
                                                         "status", "status_reason"}) for r in rows])

    def why(target: str) -> str:
        try:
            return reason_chain(store, target).model_dump_json()
        except NotFound as missing:
            return _json({"error": str(missing)})

    def proposals(symbol: str | None = None, as_of: date | None = None) -> str:
        day = as_of or store.latest_night()
        if day is None:
            return _json({"error": "no night has run yet"})
        rows = [r for r in store.night_proposals(day) if symbol is None or r.symbol == symbol.upper()]
        return _json({"as_of": day, "proposals": [
            {"key": r.key, "symbol": r.symbol, "agent": r.agent, "action": r.action,
             "strength": r.strength, "confidence": r.confidence,
             "rationale": r.rationale, "verdict": r.verdict and r.verdict.model_dump(mode="json")}
            for r in rows[:MAX_ROWS * 3]]})

    def book() -> str:
        snap = store.latest_snapshot()
        return _json({"positions": {s: h.model_dump(mode="json") for s, h in store.positions().items()},
                      "as_of": snap and snap.date.isoformat(),
                      "equity": snap and snap.equity, "cash": snap and snap.cash,
                      "halted": bool(store.desk_state().halted)})

    tools: list[BaseTool] = [
        StructuredTool.from_function(intents, name="intents", args_schema=SymbolDate,
                                     description="Intents (sized orders the night wrote) by symbol and/or date."),
        StructuredTool.from_function(why, name="why", args_schema=Target,
                                     description="The full reason chain of an intent: agent reasons, verdicts, every "
                                                 "sizing factor, rule denials, orders and fills."),
        StructuredTool.from_function(proposals, name="proposals", args_schema=SymbolDate,
                                     description="The agents' proposals on a night and the overlay's verdict on each."),
        StructuredTool.from_function(book, name="book", description="The book now: positions, equity, cash, halted."),
    ]
    if toolkit is not None:
        def agent_readings(as_of: date, symbols: list[str]) -> str:
            out = []
            for tool in toolkit.tools:
                for p in tool.func(as_of=as_of, symbols=[s.upper() for s in symbols][:MAX_ROWS]):
                    out.append({"agent": p.agent, "symbol": p.symbol, "action": str(p.action),
                                "strength": round(p.strength, 3), "confidence": round(p.confidence, 3),
                                "rationale": p.rationale})
            return _json(out)

        tools.append(StructuredTool.from_function(
            agent_readings, name="agent_readings", args_schema=Readings,
            description="What each agent tool (trend, EMA crossover, mean reversion) reads for symbols on a date, "
                        "from data up to that date only."))
        tools.extend(toolkit.models.tools)  # the model tools the night calls (a date without a promoted model says so)
    return tools


# ---------------------------------------------------------------------- the agent graph
def build_chat(exchanger: Exchanger, tools: list[BaseTool], *, max_turns: int = MAX_TURNS):
    """agent ⇄ tools until the model answers in text or ``max_turns`` model turns are spent."""
    by_name = {t.name: t for t in tools}
    model = exchanger.model("chat").bind_tools(tools)

    def agent(state: ChatState) -> dict:
        reply = exchanger.converse("chat", state["messages"], model, prompt="chat")
        return {"messages": [reply], "turns": state["turns"] + 1}

    def run_tools(state: ChatState) -> dict:
        last = state["messages"][-1]
        out = []
        for call in getattr(last, "tool_calls", []) or []:
            tool = by_name.get(call["name"])
            try:
                result = tool.invoke(call["args"]) if tool else _json({"error": f"no tool {call['name']!r}"})
                if isinstance(result, BaseModel):
                    result = result.model_dump_json()
            except Exception as exc:  # noqa: BLE001 - a bad tool argument is the model's to fix, said back to it
                result = _json({"error": f"{type(exc).__name__}: {exc}"})
            out.append(ToolMessage(content=delimited(str(result)), tool_call_id=call["id"], name=call["name"]))
        return {"messages": out}

    def route(state: ChatState) -> str:
        last = state["messages"][-1]
        if getattr(last, "tool_calls", None) and state["turns"] < max_turns:
            return "tools"
        return END

    g = StateGraph(ChatState)
    g.add_node("agent", agent)
    g.add_node("tools", run_tools)
    g.add_edge(START, "agent")
    g.add_conditional_edges("agent", route, {"tools": "tools", END: END})
    g.add_edge("tools", "agent")
    return g.compile()


def ask(question: str, *, exchanger: Exchanger, tools: list[BaseTool], as_of: date, data_from: date,
        data_until: date, max_turns: int = MAX_TURNS) -> ChatAnswer:
    """Answer one question from the record."""
    version = exchanger.settings.role("chat").prompt_version
    system, rest = split_prompt(render_prompt("chat", {"as_of": as_of.isoformat(), "data_from": data_from.isoformat(),
                                                       "data_until": data_until.isoformat()}, version))
    graph = build_chat(exchanger, tools, max_turns=max_turns)
    out = graph.invoke({"messages": [SystemMessage(f"{system}\n\n{rest}"), HumanMessage(delimited(question))],
                        "turns": 0})
    messages = out["messages"]
    used = tuple(m.name for m in messages if isinstance(m, ToolMessage) and m.name)
    last = messages[-1]
    text = last.text if isinstance(last, AIMessage) else ""
    if isinstance(last, AIMessage) and last.tool_calls:
        text = text or f"(no answer within {max_turns} model turns)"
    return ChatAnswer(answer=text.strip() or "(the model gave no answer)", tools_used=used, turns=out["turns"])
