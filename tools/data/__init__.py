"""Market data: providers (bundled, yfinance, CSV), validation, and loading into the store."""

from tools.data.base import KINDS, DataSourceError, DataValidationError, Fetched, MarketDataProvider
from tools.data.bundled import BundledProvider
from tools.data.csv_provider import CsvProvider
from tools.data.loader import LoadReport, load_into_store
from tools.data.validate import validate_bars
from tools.data.yfinance_provider import YFinanceProvider

__all__ = [
    "KINDS", "BundledProvider", "CsvProvider", "DataSourceError", "DataValidationError", "Fetched", "LoadReport",
    "MarketDataProvider", "YFinanceProvider", "load_into_store", "validate_bars",
]
