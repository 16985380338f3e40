"""A small graph that pauses for an operator's answer: the seam the approval flow of the morning graph uses.

``prepare`` → ``approve`` (calls ``interrupt()``: the run pauses) → ``finish`` when approved, END when rejected.
Imported by the tests and by the second process that resumes a paused run.
"""

from __future__ import annotations

from datetime import date
from typing import TypedDict

from langgraph.graph import END
from langgraph.runtime import Runtime
from langgraph.types import interrupt

from graph.build import Branch, build_graph
from graph.context import DeskContext
from graph.runner import Runner


class PauseState(TypedDict, total=False):
    run_id: str
    as_of: date
    question: str
    decision: str
    done: str


def prepare(state: PauseState, runtime: Runtime[DeskContext]) -> dict:
    return {"question": f"execute the morning of {state['as_of']}?", "summary": "asked the operator"}


def approve(state: PauseState, runtime: Runtime[DeskContext]) -> dict:
    answer = interrupt({"question": state["question"]})  # re-runs from here on resume: nothing above to repeat
    return {"decision": answer, "summary": f"operator said {answer}"}


def finish(state: PauseState, runtime: Runtime[DeskContext]) -> dict:
    runtime.context.store.audit("test", "finished", state["run_id"], state["decision"])
    return {"done": "yes", "summary": "finished"}


def build_pausing(checkpointer=None):
    return build_graph(PauseState, (("prepare", prepare), ("approve", approve), ("finish", finish)),
                       branches=[Branch("approve", lambda s: "go" if s["decision"] == "approve" else "stop",
                                        {"go": "finish", "stop": END})],
                       checkpointer=checkpointer)


def pausing_runner(desk: Runner) -> Runner:
    """The desk's context and checkpointer, with the pausing graph as its only graph."""
    return Runner(desk.ctx, checkpointer=desk.checkpointer, builders={"pausing": build_pausing})
