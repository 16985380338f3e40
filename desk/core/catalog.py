"""Every command of the desk, once: its name, typed input, effect, and the function that does it. The command line,
``desk ops``, Slack and the doors to come read this table; none keeps a list of its own.

The functions are imported when a command runs, not when the table is read: a door that lists the commands (or
runs a read-only one) does not import the graphs, the models or the evals.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from desk.core import args as a
from desk.core.command import LOCAL, Command, Effect


def _at(path: str) -> Callable[[Any, Any], Any]:
    """``module:function``, imported on first call."""
    module, name = path.split(":")

    def call(ctx: Any, given: Any) -> Any:
        return getattr(importlib.import_module(module), name)(ctx, given)

    call.__qualname__ = path
    return call


READ: Effect = "read"
OVERRIDE: Effect = "override"
JOB: Effect = "job"
COMMANDS: dict[str, Command] = {c.name: c for c in (
    Command("help", a.NoArgs, _at("desk.actions.read:help_"), READ, "help", "the commands and who may use them"),
    Command("status", a.NoArgs, _at("desk.actions.read:status"), READ, "status",
            "halted or not, breakers, the book, runs waiting for approval, pending overrides"),
    Command("positions", a.NoArgs, _at("desk.actions.read:positions"), READ, "positions",
            "holdings with their latest close, P&L and stop"),
    Command("intents", a.IntentsArgs, _at("desk.actions.read:intents"), READ, "intents [DATE]",
            "the night's intents and what became of them", words=("date",)),
    Command("why", a.WhyArgs, _at("desk.actions.read:why"), READ, "why SYMBOL|INTENT",
            "the full reason chain behind an intent", words=("target",), least=1),
    Command("weather", a.NoArgs, _at("desk.actions.read:weather"), READ, "weather",
            "the latest night's regime, layers and narrative"),
    Command("agents", a.AgentsArgs, _at("desk.actions.read:agents"), READ, "agents [DATE]",
            "each agent's proposals, the overlay's verdicts, its weight and track record on the latest night",
            words=("date",)),
    Command("pnl", a.PnlArgs, _at("desk.actions.read:pnl"), READ, "pnl [day|week|month|ytd|all]",
            "the book's change over a period", words=("period",)),
    Command("runs", a.RunsArgs, _at("desk.actions.read:runs"), READ, "runs [N]", "the latest runs and their status",
            words=("limit",)),
    Command("book", a.NoArgs, _at("desk.actions.board:book"), READ, "book",
            "the book since inception beside the S&P 500 and the equal-weight universe: drawdown, monthly returns"),
    Command("holdings", a.NoArgs, _at("desk.actions.board:holdings"), READ, "holdings",
            "each holding with its stop, trail, tiers taken, and the intent, tier and agents that opened it"),
    Command("candidates", a.CandidatesArgs, _at("desk.actions.board:candidates"), READ, "candidates [DATE]",
            "a night's scored candidates: score against the threshold, agents, the intent and every denial",
            words=("date",)),
    Command("orders", a.OrdersArgs, _at("desk.actions.board:orders"), READ, "orders [DATE]",
            "a session's orders and their fills, with where each price came from", words=("date",)),
    Command("regimes", a.RegimesArgs, _at("desk.actions.board:regimes"), READ, "regimes [N]",
            "the weather of the latest N nights: regime, seven layers, expert signals, notes", words=("limit",)),
    Command("veto", a.VetoArgs, _at("desk.actions.overrides:veto"), OVERRIDE, "veto INTENT [REASON]",
            "skip a pending entry at the next execution", words=("intent",), rest="reason", least=1),
    Command("unveto", a.UnvetoArgs, _at("desk.actions.overrides:unveto"), OVERRIDE, "unveto INTENT",
            "lift a veto before the morning acts on it", words=("intent",), least=1),
    Command("approve", a.ApproveArgs, _at("desk.actions.runs:approve"), OVERRIDE, "approve [RUN]",
            "let a morning paused for approval execute its entries", long=True, words=("run",)),
    Command("reject", a.RejectArgs, _at("desk.actions.runs:reject"), OVERRIDE, "reject [RUN] [REASON]",
            "run a paused morning's exits and stops only", long=True, words=("run",), rest="reason"),
    Command("expire", a.ApproveArgs, _at("desk.actions.runs:expire"), OVERRIDE, "expire RUN",
            "a paused morning's approval deadline passed: exits and stops only", long=True, doors=LOCAL,
            words=("run",), least=1),
    Command("halt", a.HaltArgs, _at("desk.actions.overrides:halt"), OVERRIDE, "halt REASON",
            "block new entries until resume (exits and stops still run)", rest="reason", least=1),
    Command("resume", a.NoArgs, _at("desk.actions.overrides:resume"), OVERRIDE, "resume",
            "allow new entries again; clears tripped circuit breakers"),
    Command("flatten", a.FlattenArgs, _at("desk.actions.overrides:flatten"), OVERRIDE, "flatten SYMBOL|all [REASON]",
            "sell a holding (or all) at the next execution", words=("target",), rest="reason", least=1),
    Command("run", a.RunArgs, _at("desk.actions.runs:run"), JOB, "run night|morning [DATE]",
            "run a graph for a date (once: a finished run is not repeated)", long=True, words=("phase", "date"),
            least=1, fixed={"once": True}, target=lambda g: f"{g.phase} {g.date or 'latest'}"),
    Command("ask", a.AskArgs, _at("desk.actions.ask:ask"), READ, "ask QUESTION",
            "a free question to the chat agent (needs an LLM provider)", long=True, rest="question", least=1),
    # the command line's own: long offline jobs and the home's housekeeping
    Command("replay", a.ReplayArgs, _at("desk.actions.runs:replay"), READ, "replay --from D1 --to D2",
            "both graphs day by day over history against a fresh paper broker, in a store of its own (the live "
            "desk is only read)", long=True, doors=LOCAL),
    Command("data_load", a.DataLoadArgs, _at("desk.actions.data:data_load"), JOB, "data load [--source S] [--until D]",
            "validate and load market data", long=True, doors=LOCAL, target=lambda g: g.source or "data.source"),
    Command("data_status", a.NoArgs, _at("desk.actions.data:data_status"), READ, "data status",
            "what the store holds per symbol", doors=LOCAL),
    Command("train", a.TrainArgs, _at("desk.training:train_command"), JOB, "train [--until D] [--models NAMES]",
            "retrain every model walk-forward, each promoted only if it beats its baselines", long=True, doors=LOCAL,
            target=lambda g: ", ".join(g.models or ["all"])),
    Command("models", a.NoArgs, _at("desk.training:models_command"), READ, "models",
            "every saved model version and why it was promoted or rejected", doors=LOCAL | {"web"}),
    Command("tools", a.NoArgs, _at("desk.training:tools_command"), READ, "tools",
            "every tool the night's nodes call, with its argument schema", doors=LOCAL),
    Command("tune", a.TuneArgs, _at("desk.tuning:tune_command"), JOB, "tune [--trials N]",
            "search the decision engine's parameters before 2019; adopt only a validated improvement", long=True,
            doors=LOCAL, target=lambda g: f"{g.trials} trials"),
    Command("eval_decisions", a.EvalDecisionsArgs, _at("desk.evals:decisions_command"), JOB,
            "eval decisions --from D1 --to D2 [--ablate SPEC]", "the desk beside its ablations over history",
            long=True, doors=LOCAL, target=lambda g: f"{g.start} .. {g.end}"),
    Command("eval_edge", a.EvalEdgeArgs, _at("desk.edge:edge_command"), JOB, "eval edge [--from D1] [--to D2]",
            "the desk beside the ablation of each layer it uses, folds by year", long=True, doors=LOCAL,
            target=lambda g: f"again {g.again}" if g.again else f"{g.start or 'from 2005'} .. {g.end or 'to 2018'}"),
    Command("eval_build_cases", a.BuildCasesArgs, _at("desk.prompt_evals:build_cases_command"), JOB,
            "eval build-cases --from D1 --to D2", "prompt eval case sets from replay history", long=True,
            doors=LOCAL, target=lambda g: f"{g.role} {g.start} .. {g.end}"),
    Command("eval_prompts", a.EvalPromptsArgs, _at("desk.prompt_evals:prompts_command"), JOB,
            "eval prompts --role R --prompt v1,v2", "score prompt versions side by side over case sets", long=True,
            doors=LOCAL, target=lambda g: f"{g.role} {g.prompt}"),
    Command("report", a.ReportArgs, _at("desk.evals:report_command"), READ, "report [EVAL|latest]",
            "a decision eval's self-contained HTML report", doors=LOCAL),
    Command("store_copy", a.StoreCopyArgs, _at("desk.store_copy:store_copy_command"), JOB, "store copy --to URL",
            "copy this home's SQLite desk into PostgreSQL, every table's count checked", long=True, doors=LOCAL,
            target=lambda g: "postgresql", private=frozenset({"to"})),
    Command("slack_flush", a.FlushArgs, _at("desk.actions.slack:flush"), JOB, "slack flush",
            "deliver the Slack outbox now", doors=LOCAL, target=lambda g: "outbox"),
    Command("slack_status", a.NoArgs, _at("desk.actions.slack:outbox"), READ, "slack status",
            "the Slack outbox: waiting, sent, refused", doors=LOCAL),
)}

CHAT_COMMANDS = tuple(name for name, c in COMMANDS.items() if "slack" in c.doors)
