"""The `desk` command line: parse, call a command, format. Bad input → one line on stderr, exit code 2."""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console

from desk import commands
from desk.config import Settings, load_settings
from desk.errors import DeskError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="An LLM-agent orchestrated trading desk: the night writes intents, the morning executes them.")
data_app = typer.Typer(no_args_is_help=True, help="Load and inspect market data.")
app.add_typer(data_app, name="data")

out = Console()
err = Console(stderr=True)
_opts: dict[str, Any] = {}

JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output")]


@app.callback()
def _main(config: Annotated[Optional[Path], typer.Option("--config", help="path to desk.toml")] = None,
          home: Annotated[Optional[Path], typer.Option("--home", help="DESK_HOME for this command")] = None) -> None:
    _opts.update(config=config, home=home)


def settings() -> Settings:
    return load_settings(_opts.get("config"), home=_opts.get("home"))


def _progress(json_mode: bool):
    console = err if json_mode else out
    return lambda msg: console.print(f"[dim]…[/] {msg}", highlight=False)


def _store(s: Settings):
    from memory.store import Store

    return Store(s.store_path)


@app.command()
def run(date: Annotated[Optional[str], typer.Option("--date", help="night date YYYY-MM-DD (default: latest)")] = None,
        phase: Annotated[str, typer.Option("--phase", help="night | morning | all")] = "all",
        json: JsonOpt = False) -> None:
    """Run the night and/or morning graph for one date."""
    from desk.app import open_desk
    from desk.summary import morning_data, night_data, print_morning, print_night
    from graph.reporting import ConsoleReporter

    if phase not in ("night", "morning", "all"):
        raise DeskError(f"unknown phase {phase!r}: use night, morning or all")
    day = commands.parse_date(date)
    s = settings()
    desk = open_desk(s, [ConsoleReporter(err if json else out, verbose=not json)], _progress(json))
    day = desk.resolve_date(day)
    desk.progress(f"preparing features, weather and models for {day}")
    desk.ensure_models(day)
    result: dict[str, Any] = {}
    if phase in ("night", "all"):
        result["night"] = night_data(desk.night(day))
    if phase in ("morning", "all"):
        result["morning"] = morning_data(desk.morning(day))
    if json:
        out.print_json(commands.dumps(result))
        return
    if "night" in result:
        print_night(out, result["night"])
    if "morning" in result:
        print_morning(out, result["morning"])


@app.command()
def replay(start: Annotated[str, typer.Option("--from", help="first night YYYY-MM-DD")],
           end: Annotated[str, typer.Option("--to", help="last night YYYY-MM-DD")],
           json: JsonOpt = False) -> None:
    """Step both graphs day by day over history against a fresh paper broker; print metrics vs benchmarks."""
    from evals.replay import print_replay, replay as run_replay

    a, b = commands.parse_date(start), commands.parse_date(end)
    result = run_replay(settings(), a, b, _progress(json))
    if json:
        out.print_json(commands.dumps(result))
    else:
        print_replay(out, result)


@app.command()
def status(json: JsonOpt = False) -> None:
    """The desk's state: halted or not, the book, the latest runs."""
    data = commands.status(_store(settings()))
    if json:
        out.print_json(commands.dumps(data))
        return
    out.print(f"[bold]{'HALTED' if data['halted'] else 'running'}[/]"
              + (f" — {data['halt_reason']} (since {data['halted_since']})" if data["halted"] else ""))
    out.print(f"book {data['equity']} cash {data['cash']} as of {data['as_of']}; data until "
              f"{data['data_until'] or 'latest'}; {data['symbols']} symbols, stale: {data['stale'] or 'none'}")
    for b in data["breakers"]:
        out.print(f"  circuit breaker {b['name']} tripped {b['tripped']} for {b['sessions']} sessions: {b['reason']}",
                  highlight=False)
    for sym, p in data["positions"].items():
        out.print(f"  {sym}: {p['quantity']} @ {p['avg_price']} stop {p['stop']}")
    for r in data["last_runs"]:
        out.print(f"  run {r['run_id']} {r['status']}")


@app.command()
def why(target: Annotated[str, typer.Argument(help="SYMBOL or INTENT_ID")], json: JsonOpt = False) -> None:
    """The full reason chain behind an intent: proposals, verdicts, sizing, rules, orders and fills."""
    data = commands.why(_store(settings()), target)
    if json:
        out.print_json(commands.dumps(data))
        return
    out.print(f"[bold]{data['intent_id']}[/] {data['side']} {data['quantity']:.2f} {data['symbol']} — "
              f"{data['status']}" + (f" ({data['status_reason']})" if data["status_reason"] else ""))
    for r in data["reasons"]:
        out.print(f"  • {r}", highlight=False)
    for f in data["sizing"]:
        out.print(f"  × {f['name']:<14} {f['multiplier']:.3f} → {f['weight_after']:.2%}  {f['reason']}", highlight=False)
    for d in data["denials"]:
        out.print(f"  ! {d['rule']}: {d['reason']}", highlight=False)
    for f in data["fills"]:
        out.print(f"  filled {f['quantity']:.2f} @ {f['price']:.2f} on {f['session']} ({f['price_source']})")


@app.command()
def halt(reason: Annotated[str, typer.Option("--reason", help="why the desk is halted")],
         json: JsonOpt = False) -> None:
    """Halt new entries until `desk resume` (survives restarts)."""
    data = commands.halt(_store(settings()), reason, actor="cli")
    out.print_json(commands.dumps(data)) if json else out.print(f"desk halted: {data['reason']}")


@app.command()
def resume(json: JsonOpt = False) -> None:
    """Resume new entries."""
    data = commands.resume(_store(settings()), actor="cli")
    out.print_json(commands.dumps(data)) if json else out.print(
        "desk resumed" + (f"; cleared {data['breakers_cleared']} circuit breaker(s)" if data["breakers_cleared"] else ""))


@data_app.command("load")
def data_load(source: Annotated[str, typer.Option("--source", help="bundled | yfinance | csv")] = "bundled",
              path: Annotated[Optional[Path], typer.Argument(help="CSV file for --source csv")] = None,
              until: Annotated[Optional[str], typer.Option("--until", help="truncate the store at this date")] = None,
              symbol: Annotated[Optional[str], typer.Option("--symbol", help="symbol for a one-symbol CSV")] = None,
              json: JsonOpt = False) -> None:
    """Load market data into the store (validated; nothing partial is written)."""
    from tools.data.loader import load_into_store

    day = commands.parse_date(until)
    s = settings()
    if source == "bundled":
        from tools.data.bundled import BundledProvider

        provider = BundledProvider()
    elif source == "yfinance":
        from tools.data.yfinance_provider import YFinanceProvider

        provider = YFinanceProvider()
    elif source == "csv":
        from tools.data.csv_provider import CsvProvider

        if path is None:
            raise DeskError("--source csv needs a PATH: desk data load --source csv FILE.csv")
        provider = CsvProvider(path, symbol=symbol)
    else:
        raise DeskError(f"unknown source {source!r}: use bundled, yfinance or csv")
    symbols = list(s.data.universe) + [s.data.benchmark] if source == "yfinance" else None
    report = load_into_store(_store(s), provider, symbols=symbols, until=day, strict=source == "csv",
                             progress=_progress(json), max_jump=s.data.max_daily_jump)
    data = {"source": report.source, "written": report.written, "rejected": report.rejected, "stale": report.stale,
            "note": report.note, "until": day}
    if json:
        out.print_json(commands.dumps(data))
        return
    out.print(f"{sum(report.written.values()):,} bars written for {len(report.written)} symbols"
              + (f" (store truncated at {day})" if day else ""))
    for sym, why_ in report.rejected.items():
        out.print(f"  rejected {sym}: {why_}", highlight=False)
    if report.note and not report.stale:  # the stale note was already shown as progress
        out.print(report.note, highlight=False)


@data_app.command("status")
def data_status(json: JsonOpt = False) -> None:
    """What the store holds, per symbol."""
    data = commands.data_status(_store(settings()))
    if json:
        out.print_json(commands.dumps(data))
        return
    if data["data_until"]:
        out.print(f"store truncated at {data['data_until']} (load again to extend)")
    for r in data["symbols"]:
        out.print(f"  {r['symbol']:<6} {r['kind']:<7} {r['source']:<9} {r['first_date']} .. {r['last_date']} "
                  f"{r['rows']:>6} rows" + ("  STALE" if r["stale"] else ""))


def _user_errors() -> tuple[type[BaseException], ...]:
    from memory.store import StoreError
    from tools.data.base import DataSourceError, DataValidationError

    return (DeskError, DataValidationError, DataSourceError, StoreError)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app(standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("aborted")
        sys.exit(1)
    except Exception as exc:  # every failure a user sees is one line
        import click

        if isinstance(exc, click.ClickException):
            err.print(f"error: {exc.format_message()}", highlight=False)
            sys.exit(2)
        if isinstance(exc, _user_errors()):
            err.print(f"error: {exc}", highlight=False, soft_wrap=True)
            sys.exit(2)
        log_path = Path.home() / ".desk-error.log"
        try:
            log_path.write_text(traceback.format_exc())
        except OSError:
            pass
        err.print(f"error: unexpected {type(exc).__name__}: {exc} (details in {log_path})", highlight=False)
        sys.exit(1)


if __name__ == "__main__":
    main()
