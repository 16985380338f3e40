"""The permutation check: the desk's choice of names against random books at its own weights, entries and exits."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from evals.permutation import check, draw_names, spells

SYMBOLS = [f"S{i:02d}" for i in range(20)]


def _market(days: int = 504, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    returns = rng.normal(0.0003, 0.015, (days, len(SYMBOLS)))
    idx = pd.bdate_range("2016-01-04", periods=days)
    return pd.DataFrame(100 * np.cumprod(1 + returns, axis=0), index=idx, columns=SYMBOLS)


def _book(closes: pd.DataFrame, choose, hold: int = 10, positions: int = 5, gross: float = 0.6) -> pd.DataFrame:
    """Every ``hold`` sessions the book sells all and holds ``positions`` names picked by ``choose(start, end)``."""
    w = pd.DataFrame(0.0, index=closes.index, columns=closes.columns)
    for start in range(0, len(closes) - hold - 1, hold):
        names = choose(start, start + hold)
        w.iloc[start:start + hold, [closes.columns.get_loc(n) for n in names]] = gross / positions
    return w


def _periods(closes: pd.DataFrame) -> dict[str, tuple[date, date]]:
    return {"all": (closes.index[0].date(), closes.index[-1].date())}


def test_a_book_that_truly_selects_beats_every_random_book():
    closes = _market()

    def best(start: int, end: int) -> list[str]:  # look-ahead on purpose: the names that will do best next
        gain = closes.iloc[end] / closes.iloc[start] - 1
        return list(gain.nlargest(5).index)

    result = check(_book(closes, best), closes, _periods(closes), books=300, seed=0)["all"]
    assert result.p_value == pytest.approx(1 / 301)
    assert result.desk > result.random_p95 and result.excess > 0.2


def test_a_book_that_picks_at_random_is_not_found_to_select():
    closes = _market()
    picks = np.random.default_rng(99)

    def anyhow(start: int, end: int) -> list[str]:
        return list(picks.choice(SYMBOLS, 5, replace=False))

    result = check(_book(closes, anyhow), closes, _periods(closes), books=300, seed=0)["all"]
    assert result.p_value > 0.05


def test_random_pickers_are_found_to_select_about_as_often_as_chance_says():
    """Calibration: over 20 random books, a 5% test says 'selects' for a few at most."""
    closes = _market(days=252)
    small = 0
    for k in range(20):
        picks = np.random.default_rng(1000 + k)
        book = _book(closes, lambda s, e, picks=picks: list(picks.choice(SYMBOLS, 5, replace=False)))
        small += check(book, closes, _periods(closes), books=200, seed=k)["all"].p_value < 0.05
    assert small <= 4


def test_random_books_keep_the_desks_positions_entries_and_exits():
    closes = _market(days=120)
    w = _book(closes, lambda s, e: SYMBOLS[s % 7: s % 7 + 5], hold=7).to_numpy()
    book = spells(w)
    quoted = np.ones_like(w, dtype=bool)
    names = draw_names(book, quoted, books=50, rng=np.random.default_rng(3))
    for day in range(len(w)):
        live = [s for s, sp in enumerate(book) if sp.first <= day <= sp.last]
        assert len(live) == int((w[day] > 0).sum())  # the same number of positions each day
        for b in range(50):
            held = names[live, b]
            assert len(set(held)) == len(held)  # no name twice in one random book


def test_the_same_book_gives_the_same_p_value_and_a_period_apart():
    closes = _market(days=300)
    book = _book(closes, lambda s, e: SYMBOLS[:5])
    periods = {"first": (date(2016, 1, 1), date(2016, 6, 30)), "later": (date(2016, 7, 1), date(2017, 12, 31))}
    a, b = check(book, closes, periods, books=100, seed=5), check(book, closes, periods, books=100, seed=5)
    assert a == b and set(a) == {"first", "later"}
    assert a["first"].end < a["later"].start


def test_a_book_that_never_holds_anything_has_nothing_to_beat():
    closes = _market(days=60)
    empty = pd.DataFrame(0.0, index=closes.index, columns=SYMBOLS)
    result = check(empty, closes, _periods(closes), books=50)["all"]
    assert result.spells == 0 and result.desk == 0.0 and result.p_value == 1.0
