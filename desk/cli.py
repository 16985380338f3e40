"""The `desk` command line: parse, call the command core, format. Bad input → one line on stderr, exit code 2.

Every text a user or the data supplied is printed as text, never interpreted as rich markup.
"""

from __future__ import annotations

import gc
import logging
import sys
import traceback
from pathlib import Path
from typing import Annotated, Optional

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.text import Text

from desk.actor import Actor
from desk.config import Settings, load_settings
from desk.errors import DeskError, explain_os_error

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="An LLM-agent orchestrated trading desk: the night writes intents, the morning executes them.")
data_app = typer.Typer(no_args_is_help=True, help="Load and inspect market data.")
app.add_typer(data_app, name="data")
slack_app = typer.Typer(no_args_is_help=True, help="Slack: deliver the outbox, inspect it, print the app manifest.")
app.add_typer(slack_app, name="slack")
eval_app = typer.Typer(no_args_is_help=True, help="Offline evals: decisions over history, prompts over case sets.")
app.add_typer(eval_app, name="eval")
store_app = typer.Typer(no_args_is_help=True, help="The store: move this home's SQLite desk into PostgreSQL.")
app.add_typer(store_app, name="store")

out = Console()
err = Console(stderr=True)
_opts: dict[str, object] = {}

JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output")]
# Exit codes: 0 done; 1 an unexpected error (details in the home's error log); 2 bad input, nothing changed;
# 3 a live night's data was stale: no entries planned, exits planned, the run recorded as failed; 4 the run finished
# but a step halted new entries (a book mismatch, a tripped breaker): a warning, shown ⚠, never a plain ✓.
EXIT_STALE = 3
EXIT_WARNING = 4


@app.callback()
def _main(config: Annotated[Optional[Path], typer.Option("--config", help="path to desk.toml")] = None,
          home: Annotated[Optional[Path], typer.Option("--home", help="DESK_HOME for this command")] = None,
          verbose: Annotated[bool, typer.Option("-v", "--verbose", help="also show the log lines of the desk and "
                                                                       "of the libraries it calls")] = False) -> None:
    _opts.update(config=config, home=home)
    _logging(verbose)


# Libraries whose own log lines (retries, failed downloads, cache misses) stay out of the way unless -v: the desk
# says in one line what failed.
LIBRARY_LOGGERS = ("yfinance", "peewee", "urllib3", "curl_cffi", "httpx", "httpcore")


def _logging(verbose: bool) -> None:
    logging.getLogger().setLevel(logging.INFO if verbose else logging.WARNING)
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET if verbose else logging.CRITICAL + 1)


def settings(**overrides) -> Settings:
    s = load_settings(_opts.get("config"), home=_opts.get("home"), **overrides)
    _opts["loaded"] = s
    return s


def _say(console: Console, text: str) -> None:
    console.print(Text(text))


def _progress(json_mode: bool):
    console = err if json_mode else out
    return lambda msg: console.print(Text.assemble(("… ", "dim"), msg))


def _json(result: BaseModel) -> None:
    out.print_json(result.model_dump_json(by_alias=True))


def _slack_reporters(s: Settings) -> list:
    if not s.slack.enabled:
        return []
    from desk.slack import wiring

    return wiring.reporters(s)


def _core(s: Settings, json_mode: bool):
    """The command core for this home, with the console's reporter and, when Slack is configured, Slack's reporter
    and override echo: every command here goes through it, as Slack's and the other doors' do."""
    from desk.core.core import Core
    from graph.reporting import ConsoleReporter

    listeners = []
    if s.slack.enabled:
        from desk.slack import wiring

        listeners = wiring.listeners(s)
    return Core(s, reporters=[ConsoleReporter(err if json_mode else out, verbose=not json_mode), *_slack_reporters(s)],
                listeners=listeners)


def _do(name: str, args, json_mode: bool, *, show=None, deliver: bool = True):
    """Run ``name`` through the command core as this machine's user; print its JSON, or draw it (``show``, else
    its plain lines); then hand what it wrote to Slack's outbox to Slack, briefly."""
    s = settings()
    result = _core(s, json_mode).execute(name, args, Actor.local(), progress=_progress(json_mode))
    if json_mode:
        _json(result)
    elif show is not None:
        show(result)
    else:
        _lines(result)
    if deliver:
        _deliver(s, json_mode)
    return result


def _lines(result) -> None:
    from desk.core.render import render

    shown = render(result)
    out.print(Text(shown.title, style="bold"), soft_wrap=True)
    for line in shown.lines:
        out.print(Text(f"  {line}"), soft_wrap=True)


def _deliver(s: Settings, json_mode: bool, timeout: float = 5.0) -> None:
    """With Slack configured, send what this command wrote to the outbox (briefly: Slack down never holds a
    command up; the messages wait for `desk slack flush` or `desk serve`)."""
    if not s.slack.enabled:
        return
    from desk.slack import wiring

    got = wiring.flush(s, timeout=timeout, force=False)
    if got.waiting:
        why = f" ({got.errors[-1]})" if got.errors else ""
        _say(err if json_mode else out, f"{got.waiting} Slack message(s) wait in the outbox{why}: "
                                        f"`desk slack flush` sends them")


@app.command()
def run(date: Annotated[Optional[str], typer.Option("--date", help="night date YYYY-MM-DD (default: latest)")] = None,
        phase: Annotated[str, typer.Option("--phase", help="night | morning | all")] = "all",
        json: JsonOpt = False) -> None:
    """Run the night and/or morning graph for one date."""
    from desk.core.args import RunArgs

    args = RunArgs(phase=phase, date=date)  # bad input is refused before the settings are read

    def show(result) -> None:
        from desk.summary import print_morning, print_night

        if result.night is not None:
            print_night(out, result.night)
        if result.morning is not None:
            print_morning(out, result.morning)

    result = _do("run", args, json, show=show)
    if result.night is not None and result.night.stale:  # the run is recorded as failed: say so, exit STALE
        err.print(Text(f"error: the night of {result.night.as_of} planned no entries: {result.night.stale}"),
                  soft_wrap=True)
        raise typer.Exit(EXIT_STALE)
    if result.warnings:
        for w in result.warnings:
            err.print(Text(f"warning: {w}"), soft_wrap=True)
        raise typer.Exit(EXIT_WARNING)


@app.command()
def replay(start: Annotated[Optional[str], typer.Option("--from", help="first night YYYY-MM-DD")] = None,
           end: Annotated[Optional[str], typer.Option("--to", help="last night YYYY-MM-DD")] = None,
           provider: Annotated[Optional[str], typer.Option(
               "--provider", help="overlay provider for the replay: rules | openai | anthropic (llm.provider)")] = None,
           llm_replay: Annotated[Optional[str], typer.Option(
               "--llm-replay", help="off | auto | only: ask the model, or serve from the LLM record (llm.replay)")]
           = None,
           json: JsonOpt = False) -> None:
    """Step both graphs day by day over history against a fresh paper broker; print metrics vs benchmarks."""
    from desk.core.args import ReplayArgs

    def show(result) -> None:
        from desk.summary import print_replay

        print_replay(out, result)

    _do("replay", ReplayArgs(start=start, end=end, provider=provider, llm_replay=llm_replay), json, show=show)


@eval_app.command("decisions")
def eval_decisions(
        start: Annotated[Optional[str], typer.Option("--from", help="first night YYYY-MM-DD")] = None,
        end: Annotated[Optional[str], typer.Option("--to", help="last night YYYY-MM-DD")] = None,
        ablate: Annotated[Optional[list[str]], typer.Option(
            "--ablate", help="overlay | risk | weather | trust | kelly | rl | tiers | exits | moonshot | agent:NAME | "
                             "only:NAME | model:NAME; repeat for side-by-side cases, join with a comma for one case")]
        = None,
        sweep: Annotated[Optional[Path], typer.Option("--sweep", help="TOML file of [[case]] tables")] = None,
        workers: Annotated[Optional[int], typer.Option("--workers", min=1, help="parallel cases (default: "
                                                                                   "cases, at most the CPUs)")] = None,
        ray: Annotated[Optional[str], typer.Option("--ray", help="run the cases on Ray: local | ADDRESS")] = None,
        llm_replay: Annotated[Optional[str], typer.Option(
            "--llm-replay", help="off | auto | only (llm.replay; only = from the record, nothing paid)")] = None,
        json: JsonOpt = False) -> None:
    """Replay the real graphs over a range, the desk beside its ablations; in-sample, validation and hold-out apart."""
    from desk.core.args import EvalDecisionsArgs

    def show(result) -> None:
        from desk.eval_print import print_eval

        print_eval(out, result)

    _do("eval_decisions", EvalDecisionsArgs(start=start, end=end, ablate=ablate or [], sweep=sweep, workers=workers,
                                            ray=ray, llm_replay=llm_replay), json, show=show)


@eval_app.command("edge")
def eval_edge(
        start: Annotated[Optional[str], typer.Option("--from", help="first night YYYY-MM-DD (default 2005-01-01)")]
        = None,
        end: Annotated[Optional[str], typer.Option("--to", help="last night YYYY-MM-DD (default 2018-12-31; "
                                                                "2019 on only with --holdout)")] = None,
        layers: Annotated[Optional[str], typer.Option(
            "--layers", help="comma-separated layers to weigh (default: every layer the desk uses): weather, "
                             "agent:NAME, model:NAME, overlay, trust, kelly, rl, budget, risk, tiers, exits, moonshot")] = None,
        workers: Annotated[Optional[int], typer.Option("--workers", min=1, help="parallel cases (default: the "
                                                                                   "CPUs)")] = None,
        ray: Annotated[Optional[str], typer.Option("--ray", help="run the cases on Ray: local | ADDRESS")] = None,
        holdout: Annotated[bool, typer.Option("--holdout", help="the range reaches 2019 on: the one final report, "
                                                                "never used to choose")] = False,
        save: Annotated[Optional[Path], typer.Option("--save", help="also write ledger.md and ledger.json to this "
                                                                    "folder (e.g. evals/edge/)")] = None,
        resamples: Annotated[int, typer.Option("--resamples", help="paired bootstrap resamples over folds")] = 10_000,
        again: Annotated[Optional[str], typer.Option("--eval", help="read the ledger again from a finished "
                                                                    "ledger's eval id (nothing replayed)")] = None,
        json: JsonOpt = False) -> None:
    """The edge ledger: the desk beside the ablation of each layer it uses, folds by year, each layer's effect on
    Sharpe, CAGR, max drawdown and selection with a paired bootstrap interval, in-sample and validation apart."""
    from desk.core.args import EvalEdgeArgs

    names = [n for n in layers.split(",") if n.strip()] if layers is not None else None

    def show(result) -> None:
        from desk.edge_print import print_edge

        print_edge(out, result)

    _do("eval_edge", EvalEdgeArgs(start=start, end=end, layers=names, workers=workers, ray=ray, holdout=holdout,
                                  save=save, resamples=resamples, again=again), json, show=show)


@eval_app.command("build-cases")
def eval_build_cases(
        start: Annotated[Optional[str], typer.Option("--from", help="first night YYYY-MM-DD")] = None,
        end: Annotated[Optional[str], typer.Option("--to", help="last night YYYY-MM-DD (before 2019)")] = None,
        role: Annotated[str, typer.Option("--role", help="overlay,weather,risk (comma-separated)")] =
        "overlay,weather,risk",
        every: Annotated[int, typer.Option("--every", help="keep every Nth night")] = 1,
        out_dir: Annotated[Optional[Path], typer.Option("--out", help="folder (default: evals/cases/)")] = None,
        holdout: Annotated[bool, typer.Option("--holdout", help="a hold-out set (2019 on): reported, never "
                                                                "used to choose")] = False,
        json: JsonOpt = False) -> None:
    """Build prompt eval case sets from replay history: what each role saw, decided, and what happened next."""
    from desk.core.args import BuildCasesArgs

    def show(data) -> None:
        for r, path in data.files.items():
            out.print(Text(f"{data.cases[r]:>5} {r} case(s) → {path}"), soft_wrap=True)

    _do("eval_build_cases", BuildCasesArgs(start=start, end=end, role=role, every=every, out_dir=out_dir,
                                           holdout=holdout), json, show=show)


@eval_app.command("prompts")
def eval_prompts(
        role: Annotated[Optional[str], typer.Option("--role", help="overlay | weather | risk")] = None,
        prompt: Annotated[str, typer.Option("--prompt", help="versions to compare: v1 or v1,v2")] = "v1",
        provider: Annotated[Optional[str], typer.Option("--provider", help="rules | openai | anthropic for "
                                                                            "the role (default: configured)")] = None,
        cases: Annotated[Optional[list[Path]], typer.Option("--cases", help="JSONL case file (repeat); default: "
                                                                              "evals/cases/ROLE-*.jsonl")] = None,
        llm_replay: Annotated[Optional[str], typer.Option(
            "--llm-replay", help="off | auto | only (only: from the record, for CI)")] = None,
        gate: Annotated[bool, typer.Option("--gate", help="fail when a version scores below its baseline")] = False,
        save_baseline: Annotated[bool, typer.Option("--save-baseline", help="store these scores as baselines")]
        = False,
        baselines: Annotated[Optional[Path], typer.Option("--baselines", help="baseline file (default: "
                                                                                "evals/cases/baselines.json)")] = None,
        tolerance: Annotated[float, typer.Option("--tolerance", min=0.0, help="allowed fall below a baseline")]
        = 0.02,
        json: JsonOpt = False) -> None:
    """Score prompt versions over case sets: schema validity, bounds, agreement, veto precision/recall, P&L impact,
    latency, tokens, dollars; an A/B table, and a regression gate against stored baselines."""
    from desk import prompt_evals
    from desk.core.args import EvalPromptsArgs

    def show(data) -> None:
        from desk.eval_print import print_prompts

        print_prompts(out, data)

    data = _do("eval_prompts", EvalPromptsArgs(role=role, prompt=prompt, provider=provider, cases=cases or [],
                                               llm_replay=llm_replay, gate=gate, save_baseline=save_baseline,
                                               baselines=baselines, tolerance=tolerance), json, show=show)
    prompt_evals.raise_if_failed(data)


@app.command()
def report(run: Annotated[str, typer.Argument(help="an eval id, or latest")] = "latest",
           json: JsonOpt = False) -> None:
    """Write a decision eval's report: one self-contained HTML file (opens offline) and its figures as JSON."""
    _do("report", {"run": run}, json, show=lambda data: out.print(Text(data.html), soft_wrap=True))  # a path is never
    # wrapped


@app.command()
def status(json: JsonOpt = False) -> None:
    """The desk's state: halted or not, the book, the latest runs, what operators have pending."""
    _do("status", {}, json)


@app.command()
def ask(question: Annotated[str, typer.Argument(help="a question about the desk's record, in quotes")],
        json: JsonOpt = False) -> None:
    """Answer a free question from the record with the chat agent (needs an LLM provider)."""

    def show(data) -> None:
        _say(out, data.answer)
        _say(err, f"({data.provider} {data.model}; {data.turns} model turn(s); tools: "
                  f"{', '.join(data.tools_used) or 'none'})")

    _do("ask", {"question": question}, json, show=show)


@app.command()
def why(target: Annotated[str, typer.Argument(help="SYMBOL or INTENT_ID")], json: JsonOpt = False) -> None:
    """The full reason chain behind an intent: proposals, verdicts, sizing, rules, orders and fills."""
    _do("why", {"target": target}, json)


@app.command()
def halt(reason: Annotated[Optional[str], typer.Option("--reason", help="why the desk is halted")] = None,
         json: JsonOpt = False) -> None:
    """Halt new entries until `desk resume` (survives restarts; audited, and echoed to Slack when configured)."""
    if reason is None:
        raise DeskError("a halt needs a reason: desk halt --reason TEXT")
    _do("halt", {"reason": reason}, json)


@app.command()
def resume(json: JsonOpt = False) -> None:
    """Resume new entries and clear tripped circuit breakers (audited, and echoed to Slack when configured)."""
    _do("resume", {}, json)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def ops(words: Annotated[Optional[list[str]], typer.Argument(help="COMMAND [ARGS…]: `desk ops help` lists them")] = None,
        json: JsonOpt = False) -> None:
    """The operators' commands, as Slack's `/desk` takes them: status, positions, intents, why, weather, agents,
    pnl, runs, veto, unveto, approve, reject, halt, resume, flatten, run, ask."""
    from desk.core.text import parse

    request = parse(" ".join(words or []))  # a bad line is refused before the settings are read
    _do(request.name, request.args, json)


@app.command()
def serve(http_port: Annotated[Optional[int], typer.Option("--http-port", help="/health, /metrics, /slack/events "
                                                                               "(default serve.http_port)")] = None,
          host: Annotated[Optional[str], typer.Option("--host", help="address to listen on (default serve.host)")]
          = None,
          no_scheduler: Annotated[bool, typer.Option("--no-scheduler", help="do not run the graphs by the clock")]
          = False,
          no_slack: Annotated[bool, typer.Option("--no-slack", help="leave Slack out even when configured")]
          = False) -> None:
    """One long-running process: scheduled nights and mornings (NYSE calendar), the Slack app, /health and
    /metrics. Stop with SIGTERM or Ctrl-C: a running graph is let finish."""
    from desk.serve.main import serve_forever

    if http_port is not None and not 0 <= http_port <= 65535:
        raise DeskError(f"--http-port {http_port}: use a port from 1 to 65535 (0 picks a free one)")
    s = settings()
    try:
        code = serve_forever(s, host=host, port=http_port, scheduler=not no_scheduler, slack=not no_slack)
    except OSError as exc:
        if exc.errno in (98, 13, 99):  # in use, privileged, not an address of this machine
            raise DeskError(f"cannot listen on {host or s.serve.host}:{http_port or s.serve.http_port} "
                            f"({exc.strerror}): choose another --http-port or --host") from None
        raise
    raise typer.Exit(code)


@slack_app.command("flush")
def slack_flush(timeout: Annotated[float, typer.Option("--timeout", help="seconds to keep trying")] = 30.0,
                revive: Annotated[bool, typer.Option("--revive", help="also resend messages Slack refused")] = False,
                json: JsonOpt = False) -> None:
    """Deliver the Slack outbox now (honouring Slack's Retry-After within --timeout)."""
    _do("slack_flush", {"timeout": timeout, "revive": revive}, json, deliver=False)


@slack_app.command("status")
def slack_status(json: JsonOpt = False) -> None:
    """The outbox: messages waiting, sent, refused (with Slack's reason)."""
    _do("slack_status", {}, json, deliver=False)


@slack_app.command("manifest")
def slack_manifest() -> None:
    """The Slack app manifest (paste it at api.slack.com/apps → Create New App → From a manifest)."""
    from importlib.resources import files

    out.print(Text(files("desk.slack").joinpath("manifest.yaml").read_text(encoding="utf-8")), soft_wrap=True)


@data_app.command("load")
def data_load(source: Annotated[Optional[str], typer.Option(
                  "--source", help="bundled | yfinance | csv | alpaca (default: data.source)")] = None,
              path: Annotated[Optional[Path], typer.Argument(help="CSV file for --source csv")] = None,
              until: Annotated[Optional[str], typer.Option("--until", help="truncate the store at this date")] = None,
              symbol: Annotated[Optional[str], typer.Option("--symbol", help="symbol for a one-symbol CSV")] = None,
              json: JsonOpt = False) -> None:
    """Load market data into the store (validated; nothing partial is written)."""
    from desk.core.args import DataLoadArgs

    args = DataLoadArgs(source=source, path=path, until=until, symbol=symbol)

    def show(data) -> None:
        _say(out, f"{sum(data.written.values()):,} bars written for {len(data.written)} symbols"
                  + (f" (store truncated at {data.until})" if data.until else ""))
        for sym, why_ in data.rejected.items():
            _say(out, f"  rejected {sym}: {why_}")
        if data.note:
            _say(out, data.note)

    _do("data_load", args, json, show=show)


@store_app.command("copy")
def store_copy(to: Annotated[str, typer.Option("--to", help="the PostgreSQL URL to copy into")],
               force: Annotated[bool, typer.Option("--force", help="replace a desk the target already holds")] = False,
               json: JsonOpt = False) -> None:
    """Copy this home's SQLite store and checkpoints into PostgreSQL; each table's rows are counted on both sides."""

    def show(done) -> None:
        _say(out, f"copied {sum(done.rows.values()):,} rows in {len(done.rows)} tables and the checkpoints of "
                  f"{done.checkpoints} run(s) into {done.target}"
                  + (" (replacing the desk it held)" if done.replaced else ""))
        _say(out, f"every table's count matches its source; use it with DESK_STORE__URL={done.target}")

    _do("store_copy", {"to": to, "force": force}, json, show=show, deliver=False)


@data_app.command("status")
def data_status(json: JsonOpt = False) -> None:
    """What the store holds, per symbol."""
    _do("data_status", {}, json)


@app.command()
def train(until: Annotated[Optional[str], typer.Option("--until", help="decisions on this date (default: latest)")] = None,
          models: Annotated[Optional[str], typer.Option("--models", help="comma-separated: regime,health,...")] = None,
          json: JsonOpt = False) -> None:
    """Retrain the models walk-forward (purged, seeded), each promoted only if it beats its baselines out of sample."""
    from rich.progress import BarColumn, Progress, TextColumn

    from desk.core.args import TrainArgs

    names = [n.strip() for n in models.split(",") if n.strip()] if models else None
    args = TrainArgs(until=until, models=names)
    s = settings()
    with Progress(TextColumn("{task.description}"), BarColumn(), console=err, disable=json, transient=True) as bars:
        tasks: dict[str, object] = {}

        def progress(event) -> None:
            key = f"{event.model}: {event.stage}"
            if key not in tasks:
                tasks[key] = bars.add_task(key, total=max(1, event.total))
            bars.update(tasks[key], completed=event.step)

        result = _core(s, json).execute("train", args, Actor.local(), progress=progress)
    if json:
        return _json(result)
    _say(out, f"models for decisions on {result.until}:")
    for m in result.models:
        score = _score(m.metric, m.validation, m.best_baseline, m.baseline_value)
        _say(out, f"  {m.name:<15} {m.version:<38} {m.status:<9} {score}" + (" (already trained)" if m.reused else
                                                                             f" ({m.seconds:.1f} s)"))
        _say(out, f"    {m.reason}")


def _score(metric: str | None, value: float | None, baseline: str | None, baseline_value: float | None) -> str:
    """A model's out-of-sample metric beside its best naive baseline."""
    if value is None or baseline_value is None:
        return "no validation score"
    return f"{metric} {value:.4f} vs {baseline} {baseline_value:.4f}"


@app.command("models")
def models_(json: JsonOpt = False) -> None:
    """Every saved model version: window, out-of-sample metric beside its best baseline, promoted or rejected."""

    def show(result) -> None:
        if not result.models:
            _say(out, "no models saved yet: `desk train` trains them (a `desk run` trains the mean reversion itself)")
        for r in result.models:
            score = _score(r["metric"], r["validation"], r["best_baseline"], r["baseline_value"])
            _say(out, f"  {r['name']:<15} {r['version']:<38} {r['status']:<9} cutoff {r['cutoff']}  {score}")

    _do("models", {}, json, show=show)


@app.command("tools")
def tools_(json: JsonOpt = False) -> None:
    """Every tool the graph's nodes call, with its argument schema."""

    def show(result) -> None:
        for t in result.tools:
            args = ", ".join(f"{k}: {v.get('type', 'object')}" for k, v in t["args"].get("properties", {}).items())
            _say(out, f"  {t['name']}({args}) — {t['description']}")

    _do("tools", {}, json, show=show)


@app.command("agents")
def agents_(date: Annotated[Optional[str], typer.Option("--date", help="the night on or before YYYY-MM-DD "
                                                                   "(default: latest)")] = None,
            json: JsonOpt = False) -> None:
    """Each agent on the latest night: its proposals and verdicts, its weight, Beta posterior and track record,
    and whether its live results drift."""
    _do("agents", {"date": date}, json)


@app.command()
def tune(trials: Annotated[int, typer.Option("--trials", help="optuna trials")] = 20,
         workers: Annotated[int, typer.Option("--workers", help="trials run at once")] = 2,
         ray: Annotated[Optional[str], typer.Option("--ray", help="run trials on Ray: local, or HOST:PORT")] = None,
         folds: Annotated[Optional[str], typer.Option("--folds", help="CV folds: years (2011,2012) or ranges "
                                                                      "(2011-01-03:2011-06-30,...); before 2019")] = None,
         validation: Annotated[Optional[str], typer.Option("--validation", help="adoption spans (default 2015-2018)")]
         = None,
         seed: Annotated[int, typer.Option("--seed", help="the sampler's seed")] = 13,
         json: JsonOpt = False) -> None:
    """Search the decision engine's parameters (optuna, multi-objective, walk-forward CV before 2019); adopt the best
    only if it beats the incumbent on the validation years."""

    def show(result) -> None:
        _say(out, f"{len(result.trials)} trials on {result.executor}: {result.seconds:.1f} s "
                  f"({result.seconds_per_trial:.1f} s per trial); {result.recorded_trials} recorded tuning "
                  f"configurations")
        for t in result.trials:
            _say(out, f"  #{t.number:<3} Sharpe {t.sharpe:+.2f}  Calmar {t.calmar:+.2f}  win {t.win_rate:.2f}  "
                      f"consistency {t.consistency:.2f}  {t.params}")
        _say(out, f"best #{result.best.number}; validation Sharpe {result.best_validation_sharpe:+.3f} vs incumbent "
                  f"{result.incumbent_validation_sharpe:+.3f}: {result.reason}")

    _do("tune", {"trials": trials, "workers": workers, "ray": ray, "folds": folds, "validation": validation,
                 "seed": seed}, json, show=show)


@app.command("sandbox-broker", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def sandbox_broker(ctx: typer.Context) -> None:
    """Serve a sandbox broker on 127.0.0.1: the web broker's site, or with --api alpaca a loopback Alpaca API
    (--port 0 picks a free port and prints it; --faults, --prices)."""
    args, api = list(ctx.args), "web"
    for i, arg in enumerate(args):
        if arg == "--api" or arg.startswith("--api="):
            api = arg.partition("=")[2] if "=" in arg else (args[i + 1] if i + 1 < len(args) else "")
            del args[i:i + (1 if "=" in arg else 2)]
            break
    if api == "alpaca":
        from brokers.alpaca.loopback.__main__ import main as serve_sandbox
    elif api == "web":
        from brokers.sandbox.__main__ import main as serve_sandbox
    else:
        raise DeskError(f"unknown --api {api!r}: use web (the sandbox web broker) or alpaca (a loopback Alpaca API)")
    code = serve_sandbox(args)
    if code:
        raise typer.Exit(code)


def _user_errors() -> tuple[type[BaseException], ...]:
    from brokers.base import BrokerError
    from memory.store import StoreError
    from models.errors import ModelError
    from tools.data.base import DataSourceError, DataValidationError

    return (DeskError, DataValidationError, DataSourceError, StoreError, BrokerError, ModelError)


def _redactor():
    from graph.config import secret_values
    from graph.redact import Redactor, env_secrets

    loaded = _opts.get("loaded")
    return Redactor([*(secret_values(loaded) if isinstance(loaded, Settings) else ()), *env_secrets()])


def _log_unexpected(redact) -> str:
    """Write the traceback (scrubbed of secrets) to the home's error log; say where, or why it could not be."""
    loaded = _opts.get("loaded")
    if not isinstance(loaded, Settings):
        return "no DESK_HOME was loaded, so no details were written"
    path = loaded.log_path
    try:
        with path.open("a", encoding="utf-8") as fh:
            fh.write(redact(traceback.format_exc()) + "\n")
    except OSError as write_error:
        return f"details could not be written to {path}: {write_error.strerror}"
    return f"details in {path}"


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        code = app(standalone_mode=False)  # click hands a typer.Exit's code back instead of raising it here
        if isinstance(code, int) and code:
            sys.exit(code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        _say(err, "aborted")
        sys.exit(1)
    except Exception as exc:  # noqa: BLE001 - every failure a user sees is one line (a bug's trace goes to the log)
        from typer.exceptions import TyperException

        if isinstance(exc, TyperException) and hasattr(exc, "format_message"):  # a usage error: bad command line
            err.print(Text(f"error: {exc.format_message()} (see `desk --help`)"), soft_wrap=True)
            sys.exit(2)
        if isinstance(exc, _user_errors()):
            err.print(Text(f"error: {exc}"), soft_wrap=True)
            sys.exit(2)
        if isinstance(exc, OSError) and explain_os_error(exc):
            err.print(Text(f"error: {explain_os_error(exc)}"), soft_wrap=True)
            sys.exit(2)
        redact = _redactor()
        where = _log_unexpected(redact)
        err.print(Text(redact(f"error: unexpected {type(exc).__name__}: {exc} ({where})")), soft_wrap=True)
        sys.exit(1)


def entry() -> None:
    """The `desk` process: ``main``, then the garbage collector is told the objects it built are permanent. They
    are still freed on the way out, but the collections the interpreter runs as it shuts down no longer walk every
    one of them (about 0.8 s of a `desk run`). Only the process entry does this; ``main`` stays a plain call."""
    try:
        main()
    finally:
        gc.freeze()


if __name__ == "__main__":
    entry()
