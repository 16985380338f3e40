"""Halt means halt (ARCHITECTURE.md: invariant 5): the halt is read at the moment each entry is submitted — a halt
issued while a morning executes stops every entry not yet sent; exits still run; markup in a halt's reason is only
text."""

from __future__ import annotations

from datetime import date

from memory.store import Store
from tests import kit
from tests.broker_kit import order
from tests.kit import run_cli

NIGHT = date(2017, 3, 1)


class HaltAfterFirstBuy:
    """The real broker; once its first buy fills, an operator halts the desk from another connection."""

    def __init__(self, real, store_path) -> None:
        self.real, self.store_path, self.buys = real, store_path, 0

    def submit(self, order):
        status = self.real.submit(order)
        if order.side == "buy":
            self.buys += 1
            if self.buys == 1:
                operator = Store(self.store_path)
                operator.set_halted(True, "operator: news on the wire", "slack:ops")
                operator.close()
        return status

    def __getattr__(self, name):
        return getattr(self.real, name)


def test_a_halt_issued_mid_morning_stops_every_entry_not_yet_sent(home):
    first = kit.desk(home)
    night = first.night(NIGHT)
    buys = [i for i in night["intents"] if i.side == "buy"]
    assert len(buys) >= 3
    broker = HaltAfterFirstBuy(first.ctx.broker, first.ctx.config.store_path)
    out = kit.desk(home, broker=broker).morning(NIGHT)
    filled = [r for r in out["results"] if r.side == "buy" and r.status == "filled"]
    halted = [r for r in out["results"] if r.side == "buy" and "operator: news on the wire" in r.reason]
    reached_execution = [r for r in out["results"] if r.side == "buy" and "gapped" not in r.reason]
    assert len(filled) == 1 and broker.buys == 1
    assert len(halted) == len(reached_execution) - 1 >= 2
    assert len([o for o in broker.real.orders() if o.side == "buy"]) == 1


def test_exits_still_run_while_halted(home):
    d = kit.desk(home)
    price = d.ctx.market.price("XOM", NIGHT)
    kit.hold(d, "XOM", 10.0, price, stop=price * 0.8, peak=price * 1.5)  # through its trailing stop
    d.ctx.broker.set_session(NIGHT)
    d.ctx.broker.submit(order("seed-xom", symbol="XOM", quantity=10.0))
    d.store.set_halted(True, "drill", "test")
    d.night(NIGHT)
    out = d.morning(NIGHT)
    assert [(r.symbol, r.side, r.status) for r in out["results"] if r.side == "sell"] == [("XOM", "sell", "filled")]
    assert not [r for r in out["results"] if r.side == "buy" and r.status == "filled"]


def test_markup_in_a_halt_reason_is_shown_as_text_everywhere(home, capsys):
    reason = "[bold red]risk[/] [link=http://evil]click[/link] [bold"
    def shown(text: str) -> str:  # the console wraps long lines
        return " ".join(text.split())

    code, out, err = run_cli(capsys, "halt", "--reason", reason)
    assert code == 0 and reason in shown(out)
    code, out, err = run_cli(capsys, "status")
    assert code == 0 and reason in shown(out), err
    code, out, err = run_cli(capsys, "run", "--date", "2017-03-01", "--phase", "night")
    assert code == 0 and "Traceback" not in err and "desk halted: " + reason in shown(out)
