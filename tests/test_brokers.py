"""The paper broker's own tests; the contract every broker passes is tests/test_broker_conformance.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from brokers.base import BrokerError, QuantityRules
from brokers.paper import PaperBroker, PriceSource, StorePriceSource
from memory.store import Store, StoreError
from tests.broker_kit import D1, D2, D3, D4, order, prices


# ---------------------------------------------------------------- paper broker


@pytest.fixture
def paper(tmp_path: Path) -> Iterator[PaperBroker]:
    with PaperBroker(tmp_path / "paper.db", prices(), session=D1) as b:
        yield b


def test_paper_buy_fills_at_open_plus_slippage_and_pays_minimum_commission(paper: PaperBroker) -> None:
    s = paper.submit(order(quantity=10))
    assert (s.status, s.price_source, s.session) == ("filled", "open", D1)
    assert s.avg_price == pytest.approx(100.05, abs=1e-12)  # 100 × (1 + 5/1e4)
    assert s.commission == 1.0  # 1 bp of 1000.50 is 0.10, below the 1.00 minimum
    assert paper.account().cash == pytest.approx(100_000 - 1000.5 - 1.0, abs=1e-9)


def test_paper_commission_is_bps_of_notional_when_above_minimum(paper: PaperBroker) -> None:
    s = paper.submit(order(quantity=500))
    assert s.commission == pytest.approx(5.0025, abs=1e-12)  # 1 bp of 500 × 100.05 = 50 025
    assert paper.account().cash == pytest.approx(100_000 - 50_025 - 5.0025, abs=1e-9)


def test_paper_sell_receives_close_less_slippage_less_commission(paper: PaperBroker) -> None:
    paper.submit(order("b", quantity=500))
    cash = paper.account().cash
    paper.set_session(D2)
    s = paper.submit(order("s", side="sell", quantity=200))
    assert (s.price_source, s.session) == ("close", D2)
    assert s.avg_price == pytest.approx(101.949, abs=1e-12)  # 102 × (1 − 5/1e4)
    assert s.commission == pytest.approx(2.03898, abs=1e-12)  # 1 bp of 20 389.80
    assert paper.account().cash == pytest.approx(cash + 20_389.8 - 2.03898, abs=1e-9)
    position = paper.positions()["AAA"]
    assert (position.quantity, position.avg_price, position.market_price) == (300, pytest.approx(100.05), 102.0)


@pytest.mark.parametrize(("session", "price", "source", "as_of"), [
    (D1, 100.0, "open", D1),
    (D2, 102.0, "close", D2),
    (D3, 102.0, "latest_close", D2),
    (D4, 102.0, "latest_close", D2),
])
def test_paper_quote_and_fill_price_follow_open_then_close_then_latest_close(
        tmp_path: Path, session: date, price: float, source: str, as_of: date) -> None:
    with PaperBroker(tmp_path / "p.db", prices(), session=session, slippage_bps=0) as b:
        q = b.quote("AAA")
        s = b.submit(order())
    assert (q.price, q.source, q.as_of) == (price, source, as_of)
    assert (s.avg_price, s.price_source, s.session) == (price, source, session)


def test_paper_account_marks_positions_at_the_new_sessions_quote(paper: PaperBroker) -> None:
    paper.submit(order(quantity=10))
    cash = paper.account().cash
    paper.set_session(D2)
    acct = paper.account()
    assert (acct.session, acct.positions_value, acct.equity) == (D2, 1020.0, pytest.approx(cash + 1020.0))


def test_paper_average_price_is_quantity_weighted_over_buys(paper: PaperBroker) -> None:
    paper.submit(order("b1", "BBB", quantity=1))  # 50.025
    paper.set_session(D2)
    paper.submit(order("b2", "BBB", quantity=3))  # 52.026
    p = paper.positions()["BBB"]
    assert p.quantity == 4 and p.avg_price == pytest.approx((50.025 + 3 * 52.026) / 4, abs=1e-12)


def test_paper_fractional_quantities_buy_and_sell_exactly(tmp_path: Path) -> None:
    with PaperBroker(tmp_path / "p.db", prices(), session=D1, quantity=QuantityRules(decimals=1)) as paper:
        paper.submit(order("f1", quantity=0.1))
        paper.submit(order("f2", quantity=0.2))
        assert paper.submit(order("f3", side="sell", quantity=0.3)).status == "filled"
        assert paper.positions() == {}


def test_paper_broker_by_default_rejects_a_fraction_of_a_share_with_the_reason(paper: PaperBroker) -> None:
    got = paper.submit(order(quantity=898.8360073704553))
    assert paper.quantity_rules("AAA") == QuantityRules()
    assert got.status == "rejected" and "whole shares" in got.reason and paper.positions() == {}


def test_paper_broker_below_its_minimum_notional_rejects_the_order(tmp_path: Path) -> None:
    with PaperBroker(tmp_path / "p.db", prices(), session=D1, quantity=QuantityRules(decimals=2, min_notional=5)) as b:
        low = b.submit(order("low", quantity=0.04))  # 4.00 at the open of 100
        ok = b.submit(order("ok", quantity=0.05))
    assert low.status == "rejected" and "below the broker's minimum of 5.00" in low.reason
    assert ok.status == "filled"


def test_paper_broker_sells_a_whole_holding_bought_in_finer_units(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    with PaperBroker(path, prices(), session=D1, quantity=QuantityRules(decimals=3)) as before:
        before.submit(order("b", quantity=2.5))
    with PaperBroker(path, prices(), session=D1) as whole:  # reconfigured to whole shares
        part = whole.submit(order("s1", side="sell", quantity=1.5))
        closed = whole.submit(order("s2", side="sell", quantity=2.5))
        assert part.status == "rejected" and closed.status == "filled" and whole.positions() == {}


def test_paper_sell_whose_proceeds_cannot_cover_commission_is_rejected(tmp_path: Path) -> None:
    with PaperBroker(tmp_path / "p.db", prices(), session=D1, initial_cash=101.55,
                     quantity=QuantityRules(decimals=3)) as b:
        b.submit(order("b", quantity=1))  # 100.05 + 1.00 commission leaves 0.50
        s = b.submit(order("s", side="sell", quantity=0.001))
    assert s.status == "rejected" and "commission" in s.reason


def test_paper_resubmit_does_not_write_a_second_fill(paper: PaperBroker) -> None:
    paper.submit(order())
    paper.submit(order())
    assert paper.db["fills"].count == 1 and paper.db["orders"].count == 1


def test_paper_restart_sees_orders_positions_and_cash_and_never_fills_again(tmp_path: Path) -> None:
    path = tmp_path / "paper.db"
    with PaperBroker(path, prices(), session=D1) as before:
        filled = before.submit(order("o1", quantity=10))
        rejected = before.submit(order("o2", "ZZZ", quantity=1))
        cash = before.account().cash
    with PaperBroker(path, prices(), session=D1, initial_cash=5.0) as after:
        assert after.account().cash == cash  # the stored account wins over initial_cash
        assert after.status("o1") == filled and after.status("o2") == rejected
        assert after.orders() == [filled, rejected]
        assert after.positions()["AAA"].quantity == 10
        assert after.submit(order("o1", quantity=10)) == filled
        assert after.account().cash == cash and after.db["fills"].count == 1


def test_paper_failed_write_leaves_nothing_of_the_submit(paper: PaperBroker) -> None:
    paper.db.execute("DROP TABLE fills")  # the last write of a submit now fails
    with pytest.raises(StoreError, match="paper broker file .* missing part of its schema .*fills"):
        paper.submit(order())
    assert paper.account().cash == 100_000 and paper.positions() == {}
    with pytest.raises(BrokerError):
        paper.status("o1")


@pytest.mark.parametrize("bad", [{"slippage_bps": -1}, {"commission_bps": float("nan")}, {"initial_cash": -5}])
def test_paper_rejects_negative_or_nan_settings(tmp_path: Path, bad: dict) -> None:
    with pytest.raises(BrokerError, match=next(iter(bad))):
        PaperBroker(tmp_path / "p.db", prices(), session=D1, **bad)


def test_paper_unusable_file_raises_one_line_broker_error(tmp_path: Path) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(BrokerError, match="unusable") as err:
        PaperBroker(path, prices(), session=D1)
    assert "\n" not in str(err.value)


def test_order_rejects_non_positive_quantity() -> None:
    with pytest.raises(ValidationError, match="greater than 0"):
        order(quantity=0)


# ---------------------------------------------------------------- StorePriceSource over a real store


def bars(rows: dict[str, tuple[float, float]]) -> pd.DataFrame:
    index = pd.DatetimeIndex([pd.Timestamp(d) for d in rows], name="date")
    opens, closes = zip(*rows.values(), strict=True)
    return pd.DataFrame({"open": opens, "high": closes, "low": opens, "close": closes, "volume": 1e6}, index=index)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "desk.db")
    s.write_bars({"AAA": bars({"2024-01-02": (100.0, 101.0), "2024-01-03": (np.nan, 102.0),
                               "2024-01-04": (103.0, 104.0)}),
                  "BBB": bars({"2024-01-02": (50.0, 51.0), "2024-01-04": (54.0, 55.0)})},
                 kinds={}, source="test")
    yield s
    s.close()


def test_store_prices_give_open_and_close_of_a_session(store: Store) -> None:
    src: PriceSource = StorePriceSource(store)
    assert src.bar("AAA", D1) == (100.0, 101.0)
    assert src.bar("AAA", D2) == (None, 102.0)


def test_store_prices_have_no_bar_for_missing_day_symbol_or_future(store: Store) -> None:
    src = StorePriceSource(store)
    assert src.bar("BBB", D2) is None  # AAA traded that day, BBB has no row
    assert src.bar("NOPE", D1) is None and src.bar("AAA", D4) is None


def test_store_prices_latest_close_skips_missing_days(store: Store) -> None:
    src = StorePriceSource(store)
    assert src.latest("BBB", D2) == (D1, 51.0)
    assert src.latest("AAA", D4) == (D3, 104.0)
    assert src.latest("AAA", date(2023, 12, 29)) is None and src.latest("NOPE", D4) is None


def test_store_prices_see_bars_written_after_they_were_built(store: Store) -> None:
    src = StorePriceSource(store)
    assert src.bar("AAA", D4) is None
    store.write_bars({"AAA": bars({"2024-01-04": (103.0, 104.0), "2024-01-05": (105.0, 106.0)})},
                     kinds={}, source="test")
    assert src.bar("AAA", D4) == (105.0, 106.0) and src.latest("AAA", date(2024, 1, 8)) == (D4, 106.0)


def test_store_prices_over_an_empty_store_have_no_prices(tmp_path: Path) -> None:
    s = Store(tmp_path / "empty.db")
    src = StorePriceSource(s)
    assert src.bar("AAA", D1) is None and src.latest("AAA", D1) is None
    s.close()


def test_paper_broker_over_store_prices_fills_at_stored_bars(store: Store, tmp_path: Path) -> None:
    with PaperBroker(tmp_path / "paper.db", StorePriceSource(store), session=D2, slippage_bps=0) as b:
        s = b.submit(order(quantity=1))
        b.set_session(date(2024, 1, 5))
        q = b.quote("AAA")
    assert (s.avg_price, s.price_source) == (102.0, "close")
    assert (q.price, q.source, q.as_of) == (104.0, "latest_close", D3)
