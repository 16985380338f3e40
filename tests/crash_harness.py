"""Run one graph of a desk and SIGKILL the process at an exact point: the crash-consistency suite's victim.

    python -m tests.crash_harness HOME night|morning YYYY-MM-DD POINT

POINT: ``node-end:NAME`` (the node's work is done and saved, its checkpoint is not), ``node-start:NAME`` (the
previous checkpoint is written, this node has not begun), ``submit-before:N`` / ``submit-after:N`` (around the
broker's N-th submit, 1-based: before it is sent, or after the broker filled it but before the desk recorded it),
or ``none``. The process dies by SIGKILL: no ``finally``, no rollback handler, no flush — as a real crash.
"""

from __future__ import annotations

import os
import signal
import sys
from datetime import date

from graph.build import build_graph
from graph.morning import MORNING_NODES
from graph.night import NIGHT_NODES
from graph.runner import Runner
from graph.state import MorningState, NightState
from tests import kit


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def killing(name: str, fn, point: str):
    def node(state, runtime):
        if point == f"node-start:{name}":
            die()
        out = fn(state, runtime)
        if point == f"node-end:{name}":
            die()
        return out

    return node


class KillingBroker:
    """The desk's broker, killed around its N-th submit."""

    def __init__(self, real, point: str) -> None:
        self.real, self.point, self.n = real, point, 0

    def submit(self, order):
        self.n += 1
        if self.point == f"submit-before:{self.n}":
            die()
        status = self.real.submit(order)
        if self.point == f"submit-after:{self.n}":
            die()
        return status

    def __getattr__(self, name):
        return getattr(self.real, name)


def main(home: str, phase: str, day: str, point: str) -> None:
    plain = kit.desk(home, checkpointing=True)
    broker = KillingBroker(plain.ctx.broker, point) if point.startswith("submit-") else None
    desk = kit.desk(home, checkpointing=True, broker=broker) if broker else plain
    builders = {
        "night": lambda saver: build_graph(NightState, [(n, killing(n, f, point)) for n, f in NIGHT_NODES],
                                           checkpointer=saver),
        "morning": lambda saver: build_graph(MorningState, [(n, killing(n, f, point)) for n, f in MORNING_NODES],
                                             checkpointer=saver),
    }
    runner = Runner(desk.ctx, checkpointer=desk.checkpointer, builders=builders)
    d = date.fromisoformat(day)
    runner.night(d) if phase == "night" else runner.morning(d)


if __name__ == "__main__":
    main(*sys.argv[1:5])
