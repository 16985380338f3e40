"""Run many eval cases: here (one case), in a local process pool (the default for several), or on Ray — the same
``evals.case.run_case`` either way, so a sweep moves to a cluster by configuration, not a rewrite (ARCHITECTURE.md:
Beyond one machine).

A sweep file is TOML, one ``[[case]]`` table per case (``from``/``to`` default to the command line's range)::

    [[case]]
    name = "overlay v2"
    ablate = []
    [case.settings.llm.prompt_versions]
    overlay = "v2"

On Ray, every worker must see the desk's home on its file system (one machine, or a shared volume) and have the
desk importable; ``--ray local`` starts a local Ray instance with ``workers`` CPUs and stops it after.
"""

from __future__ import annotations

import os
import queue as queues
import time
import tomllib
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from evals.case import EvalCase, run_case
from graph.errors import DeskError

REPO = Path(__file__).resolve().parent.parent
Runner = Callable[..., dict[str, Any]]  # (config, case, tick=None) -> result; tick(nights done, nights) reports
Progress = Callable[[str], None]
REPORT_EVERY = 20.0  # seconds between two progress lines of a long sweep


def load_sweep(path: Path, start: str | None, end: str | None) -> list[EvalCase]:
    """The cases of a sweep file; a bad file is one line naming the case and the key."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DeskError(f"sweep file not found: {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DeskError(f"cannot read sweep file {path}: {exc}") from None
    unknown = sorted(set(data) - {"case"})
    if unknown or not isinstance(data.get("case"), list) or not data["case"]:
        extra = f" (unknown key(s): {', '.join(unknown)})" if unknown else ""
        raise DeskError(f"sweep file {path} needs one [[case]] table per case{extra}")
    cases = []
    for i, raw in enumerate(data["case"], 1):
        row = {"from": start, "to": end, **raw}
        if row["from"] is None or row["to"] is None:
            raise DeskError(f"sweep case {i} has no range: give it from/to, or pass --from and --to")
        try:
            case = EvalCase.model_validate(row)
        except ValidationError as exc:
            e = exc.errors()[0]
            key = ".".join(str(p) for p in e["loc"])
            raise DeskError(f"sweep case {i}, key '{key}': {e['msg']}") from None
        case.ablation  # noqa: B018 - reading it refuses a bad ablation before anything runs
        if case.end < case.start:
            raise DeskError(f"sweep case {i}: to {case.end} is before from {case.start}")
        cases.append(case)
    return cases


def run_cases(config: dict[str, Any], cases: Sequence[EvalCase], *, workers: int = 1, ray: str | None = None,
              pool: bool = True, runner: Runner = run_case,
              progress: Progress | None = None) -> list[dict[str, Any]]:
    """Each case's result dict, in the order given. ``pool`` False runs here, one after another. ``progress``, when
    given, hears how far the cases are (nights replayed, cases done, time left) every ``REPORT_EVERY`` seconds."""
    payloads = [c.model_dump(mode="json", by_alias=True) for c in cases]
    tally = Tally([c.label for c in cases], progress) if progress else None
    if ray is not None:
        return _on_ray(ray, config, payloads, workers, runner, tally)
    if not pool:
        out = []
        for c, p in zip(cases, payloads, strict=True):
            out.append(runner(config, p, tick=tally.ticker(c.label)) if tally else runner(config, p))
            if tally:
                tally.finished(c.label)
        return out
    share = max(1, (os.cpu_count() or 1) // max(1, workers))
    ctx = get_context("spawn")
    manager = ctx.Manager() if tally else None
    inbox = manager.Queue() if manager else None
    try:
        with ProcessPoolExecutor(max_workers=max(1, workers), mp_context=ctx, initializer=_threads,
                                 initargs=(share,)) as ex:
            futures = [ex.submit(_reporting, runner, inbox, c.label, config, p) if inbox is not None
                       else ex.submit(runner, config, p) for c, p in zip(cases, payloads, strict=True)]
            if tally is not None and inbox is not None:
                _follow(futures, [c.label for c in cases], inbox, tally)
            return [_result(f.result, c) for f, c in zip(futures, cases, strict=True)]
    finally:
        if manager is not None:
            manager.shutdown()


class Tally:
    """How far a sweep is: nights replayed per case (from each case's ticks), cases done, an estimate of the rest."""

    def __init__(self, labels: Sequence[str], progress: Progress, every: float | None = None) -> None:
        self.labels, self.progress = list(labels), progress
        self.every = REPORT_EVERY if every is None else every
        self.nights: dict[str, tuple[int, int]] = {}
        self.done: set[str] = set()
        self.t0 = self.last = time.monotonic()

    def tick(self, label: str, done: int, total: int) -> None:
        self.nights[label] = (done, total)
        if time.monotonic() - self.last >= self.every:
            self.report()

    def ticker(self, label: str) -> Callable[[int, int], None]:
        return lambda done, total: self.tick(label, done, total)

    def finished(self, label: str) -> None:
        self.done.add(label)
        if label in self.nights:
            total = self.nights[label][1]
            self.nights[label] = (total, total)
        self.report(f"case {label} done")

    def report(self, note: str = "") -> None:
        self.last = time.monotonic()
        elapsed = self.last - self.t0
        known = [n for _, n in self.nights.values()]
        per_case = max(known) if known else 0
        total = sum(known) + per_case * (len(self.labels) - len(self.nights))
        done = sum(d for d, _ in self.nights.values())
        parts = [f"{len(self.done)}/{len(self.labels)} case(s) done"]
        if total:
            parts.append(f"{done:,}/{total:,} nights replayed ({done / total:.0%})")
        parts.append(f"in {_clock(elapsed)}")
        if done and total > done:
            parts.append(f"about {_clock(elapsed * (total - done) / done)} left")
        elif not total and self.done and len(self.done) < len(self.labels):
            parts.append(f"about {_clock(elapsed * (len(self.labels) - len(self.done)) / len(self.done))} left")
        self.progress(f"{note + ': ' if note else ''}{', '.join(parts)}")


def _clock(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return f"{m} min {s:02d} s" if m else f"{s} s"


def _reporting(runner: Runner, inbox: Any, label: str, config: dict[str, Any], case: dict[str, Any]) -> dict:
    """A pool worker's case, its ticks sent to the parent's inbox."""
    return runner(config, case, tick=lambda done, total: inbox.put((label, done, total)))


def _follow(futures: list[Future], labels: list[str], inbox: Any, tally: Tally) -> None:
    """Relay the workers' ticks to the tally until every case has finished (or one failed)."""
    pending = {f: label for f, label in zip(futures, labels, strict=True)}
    while pending:
        done, _ = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
        while True:
            try:
                label, n, total = inbox.get_nowait()
            except queues.Empty:
                break
            tally.tick(label, n, total)
        for f in done:
            label = pending.pop(f)
            if f.exception() is not None:
                return  # the caller raises it, naming the case
            tally.finished(label)


def _threads(n: int) -> None:
    """A pool worker's numeric libraries use its share of the CPUs (set before they are first imported), so two
    workers on two cores do not each start two threads per operation (Ray does the same for its workers)."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(n)


def _result(get: Callable[[], dict[str, Any]], case: EvalCase) -> dict[str, Any]:
    try:
        return get()
    except DeskError as exc:
        raise DeskError(f"eval case {case.label}: {exc}") from None


def _on_ray(address: str, config: dict[str, Any], payloads: list[dict[str, Any]], workers: int,
            runner: Runner, tally: Tally | None = None) -> list[dict[str, Any]]:
    try:
        import ray
    except ImportError:
        raise DeskError("--ray needs the ray package: pip install 'ray>=2.9'") from None
    local = address == "local"
    env = {"env_vars": {"PYTHONPATH": str(REPO)}}
    try:
        extra = {"num_cpus": max(1, workers), "_node_ip_address": "127.0.0.1"} if local else {}  # loopback only
        ray.init(address=None if local else address, **extra,
                 include_dashboard=False, log_to_driver=False, runtime_env=env, ignore_reinit_error=True)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise DeskError(f"cannot reach the Ray cluster at {address!r}: {str(exc).splitlines()[0]} "
                        f"(use --ray local for a local instance)") from None
    try:
        remote = ray.remote(num_cpus=1, max_retries=0)(runner)
        refs = [remote.remote(config, p) for p in payloads]
        out = []
        for ref, p in zip(refs, payloads, strict=True):
            try:
                out.append(ray.get(ref))
            except ray.exceptions.RayTaskError as exc:
                cause = exc.cause if getattr(exc, "cause", None) is not None else exc
                raise DeskError(f"eval case {p.get('name') or p['ablate'] or 'desk'} failed on Ray: {cause}") from None
            if tally is not None:
                tally.finished(EvalCase.model_validate(p).label)
        return out
    finally:
        if local:
            ray.shutdown()
