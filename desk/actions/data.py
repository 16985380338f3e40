"""Market data commands: `data load` (validated; nothing partial is written; recorded and reported as a run of its
own) and `data status`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from desk.config import Settings
from desk.core.args import SOURCES, DataLoadArgs, NoArgs
from desk.core.context import CommandContext
from desk.results import DataLoadResult, DataStatusResult, SymbolLine
from graph.errors import DeskError

if TYPE_CHECKING:
    from graph.reporting import Reporter
    from memory.store import Store
    from tools.data.base import MarketDataProvider


def provider_for(source: str, path: Path | None, symbol: str | None,
                 settings: Settings | None = None) -> MarketDataProvider:
    if source == "alpaca":
        from brokers.alpaca.config import AlpacaKeys, AlpacaOptions
        from tools.data.alpaca_provider import AlpacaDataProvider

        broker = settings.broker if settings is not None else None
        return AlpacaDataProvider(AlpacaKeys.from_env(), broker.url if broker else None,
                                  broker.alpaca if broker else AlpacaOptions(),
                                  max_jump=settings.data.max_daily_jump if settings else 0.75)
    if source == "bundled":
        from tools.data.bundled import BundledProvider

        return BundledProvider()
    if source == "yfinance":
        from tools.data.yfinance_provider import YFinanceProvider

        return YFinanceProvider()
    if source == "csv":
        from tools.data.csv_provider import CsvProvider

        if path is None:
            raise DeskError("--source csv needs a PATH: desk data load --source csv FILE.csv")
        return CsvProvider(path, symbol=symbol)
    raise DeskError(f"unknown source {source!r}: use {', '.join(SOURCES)}")


def data_load(ctx: CommandContext, args: DataLoadArgs) -> DataLoadResult:
    """Validate and load market data. Waits for no one: while a run holds the book, a load is refused (the bars
    must not move under a run). The core audits it once it is in: a refused load changes nothing."""
    from memory.locks import desk_lock

    s = ctx.settings
    source = args.source or s.data.source
    provider = provider_for(source, args.path, args.symbol, s)
    with desk_lock(s, "book", f"loading {source} data"):
        return load(ctx.store, s, provider, source, args.until, ctx.reporters, ctx.progress)


def load(store: Store, settings: Settings, provider: MarketDataProvider, source: str, until: date | None,
         reporters: Sequence[Reporter], progress: Callable[[str], None]) -> DataLoadResult:
    """Load, as a reported run of kind ``data_load``; a refused load leaves the store as it was."""
    from graph.config import LIVE_SOURCES
    from graph.reporting import Fanout, StoreReporter, run_task
    from tools.data.base import DataSourceError, DataValidationError, SourceUnserved
    from tools.data.loader import load_into_store

    live = source in LIVE_SOURCES  # a live load must serve every symbol the desk trades, or it loads nothing
    symbols = [*settings.data.universe, settings.data.benchmark] if live else None
    box = {}

    def run() -> str:
        report = load_into_store(store, provider, symbols=symbols, until=until, strict=source == "csv",
                                 complete=live, progress=progress, max_jump=settings.data.max_daily_jump)
        box["report"] = report
        return report.summary()

    run_task(store, Fanout([StoreReporter(store), *reporters]), "data_load", date.today(), "load", run,
             refusals=(DeskError, DataValidationError, DataSourceError), failures=(SourceUnserved,))
    report = box["report"]
    return DataLoadResult(source=report.source, written=report.written, rejected=report.rejected,
                          note=report.note, until=until)


def data_status(ctx: CommandContext, _: NoArgs) -> DataStatusResult:
    """What the store holds, per symbol."""
    return DataStatusResult(data_until=ctx.store.get_meta("data_until"), source=ctx.settings.data.source, symbols=[
        SymbolLine(**r.model_dump(mode="json", include=set(SymbolLine.model_fields))) for r in ctx.store.symbols()])
