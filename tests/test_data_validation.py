"""validate_bars: each rejection rule on its own, and the normalised frame it returns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tools.data.base import DataValidationError
from tools.data.validate import BAR_COLUMNS, validate_bars


def ohlcv(closes: list[float], start: str = "2020-01-02", **overrides: list[float]) -> pd.DataFrame:
    """A business-day OHLCV frame around ``closes``; any column can be overridden."""
    close = np.asarray(closes, dtype=float)
    frame = pd.DataFrame({"open": close, "high": close * 1.01, "low": close * 0.99, "close": close,
                          "volume": np.full(len(close), 1e6)},
                         index=pd.bdate_range(start, periods=len(close)))
    for col, values in overrides.items():
        frame[col] = values
    return frame


def reject(frame: pd.DataFrame, kind: str = "equity", **kw: float) -> DataValidationError:
    with pytest.raises(DataValidationError) as info:
        validate_bars("XYZ", frame, kind, **kw)
    return info.value


def test_valid_ohlcv_is_normalised_to_float_columns_and_a_date_index():
    raw = ohlcv([10, 10.5, 10.2]).astype({"volume": "int64"})
    out = validate_bars("XYZ", raw, "equity")
    assert list(out.columns) == list(BAR_COLUMNS)
    assert all(out[c].dtype == "float64" for c in BAR_COLUMNS)
    assert out.index.name == "date" and out.index.tz is None
    assert out["close"].tolist() == [10, 10.5, 10.2]


def test_close_only_series_is_accepted_with_empty_open_high_low_volume():
    frame = ohlcv([10, 11, 12])[["close"]]
    out = validate_bars("XYZ", frame, "index")
    assert out[["open", "high", "low", "volume"]].isna().all().all()
    assert out["close"].tolist() == [10, 11, 12]


def test_column_names_are_case_insensitive_and_adj_close_is_dropped():
    frame = ohlcv([10, 11]).rename(columns=str.title)
    frame["Adj Close"] = [5.0, 5.5]
    out = validate_bars("XYZ", frame, "equity")
    assert list(out.columns) == list(BAR_COLUMNS) and out["close"].tolist() == [10, 11]


def test_timezone_aware_index_keeps_the_exchange_date_and_drops_the_zone():
    frame = ohlcv([10, 11])
    frame.index = pd.DatetimeIndex(["2020-01-02 00:00", "2020-01-03 00:00"]).tz_localize("America/New_York")
    out = validate_bars("XYZ", frame, "equity")
    assert out.index.tz is None
    assert [d.strftime("%Y-%m-%d") for d in out.index] == ["2020-01-02", "2020-01-03"]


def test_iso_date_strings_as_index_are_accepted():
    frame = ohlcv([10, 11])
    frame.index = ["2020-01-02", "2020-01-03"]
    assert validate_bars("XYZ", frame, "equity").index[1] == pd.Timestamp("2020-01-03")


def test_integer_index_is_rejected_as_not_dates():
    assert "not dates" in reject(ohlcv([10, 11]).reset_index(drop=True)).reason


def test_error_message_is_one_line_symbol_colon_reason():
    err = reject(ohlcv([10, float("nan"), 12]))
    assert err.symbol == "XYZ"
    assert str(err) == f"XYZ: {err.reason}" and "\n" not in str(err)


def test_empty_frame_is_rejected():
    assert "no bars" in reject(ohlcv([])).reason


def test_frame_without_close_column_is_rejected():
    assert "no 'close' column" in reject(ohlcv([10, 11])[["open", "high"]]).reason


def test_nan_close_is_rejected_naming_the_date():
    assert reject(ohlcv([10, float("nan"), 12])).reason == "close is missing (NaN) on 2020-01-03"


def test_nan_high_where_high_is_otherwise_present_is_rejected():
    err = reject(ohlcv([10, 11, 12], high=[10.1, float("nan"), 12.1]))
    assert err.reason.startswith("high is missing (NaN) on 2020-01-03")


def test_all_nan_open_column_counts_as_absent_and_is_accepted():
    out = validate_bars("XYZ", ohlcv([10, 11], open=[float("nan")] * 2), "equity")
    assert out["open"].isna().all()


def test_zero_close_is_rejected_for_an_equity():
    assert reject(ohlcv([10, 0.0, 12], low=[9.9, 0.0, 11.9])).reason == "close 0 on 2020-01-03 is not positive"


def test_negative_low_is_rejected_for_an_index():
    err = reject(ohlcv([10, 11], low=[9.9, -1.0]), kind="index")
    assert err.reason == "low -1 on 2020-01-03 is not positive"


def test_negative_macro_value_is_accepted_like_wti_in_april_2020():
    frame = pd.DataFrame({"close": [18.27, -37.63, 10.01]}, index=pd.DatetimeIndex(
        ["2020-04-17", "2020-04-20", "2020-04-21"]))
    assert validate_bars("WTI", frame, "macro")["close"].tolist() == [18.27, -37.63, 10.01]


def test_infinite_macro_value_is_rejected():
    frame = pd.DataFrame({"close": [1.0, np.inf]}, index=pd.bdate_range("2020-01-02", periods=2))
    assert reject(frame, kind="macro").reason == "close is infinite on 2020-01-03"


def test_high_below_low_is_rejected():
    err = reject(ohlcv([10, 11], high=[10.1, 10.0], low=[9.9, 10.5]))
    assert err.reason == "high 10 below low 10.5 on 2020-01-03"


def test_close_above_high_is_rejected():
    err = reject(ohlcv([10, 11], high=[10.1, 10.8], low=[9.9, 10.5]))
    assert err.reason.startswith("close 11 outside [low") and err.reason.endswith("on 2020-01-03")


def test_close_below_low_is_rejected():
    assert "outside" in reject(ohlcv([10, 11], low=[9.9, 11.05])).reason


def test_duplicate_dates_are_rejected_naming_the_date():
    frame = ohlcv([10, 11, 12])
    frame.index = pd.DatetimeIndex(["2020-01-02", "2020-01-03", "2020-01-03"])
    assert reject(frame).reason == "duplicate date 2020-01-03"


def test_unordered_dates_are_rejected():
    frame = ohlcv([10, 11, 12])
    frame.index = pd.DatetimeIndex(["2020-01-02", "2020-01-06", "2020-01-03"])
    assert reject(frame).reason == "dates out of order: 2020-01-03 follows 2020-01-06"


def test_absurd_jump_is_rejected_with_both_dates():
    err = reject(ohlcv([10, 10.5, 30, 31]))
    assert err.reason.startswith("close jumps +185.7% from 2020-01-03 to 2020-01-06 (limit 75%)")


def test_jump_limit_is_configurable():
    frame = ohlcv([10, 13])
    assert validate_bars("XYZ", frame, "equity", max_jump=0.5)["close"].iloc[-1] == 13
    assert "limit 20%" in reject(frame, max_jump=0.2).reason


def test_macro_series_may_jump():
    frame = pd.DataFrame({"close": [12.0, 37.3]}, index=pd.bdate_range("2018-02-02", periods=2))
    assert len(validate_bars("VIX", frame, "macro")) == 2


def test_negative_volume_is_rejected():
    assert reject(ohlcv([10, 11], volume=[1e6, -5.0])).reason == "negative volume -5 on 2020-01-03"


def test_non_numeric_value_is_rejected():
    frame = ohlcv([10, 11]).astype({"close": object})
    frame.iloc[1, frame.columns.get_loc("close")] = "eleven"
    assert reject(frame).reason == "close 'eleven' on 2020-01-03 is not a number"


def test_unknown_kind_is_rejected_listing_the_kinds():
    assert reject(ohlcv([10, 11]), kind="crypto").reason.startswith("unknown kind 'crypto'; use one of equity")
