"""Run one prompt version of one role over a case set, through the desk's own provider (the LLM record, the budget,
the bounds and the rules fallback all as in a run), and gate it against a stored baseline.

Each case is asked in a call scope of its own (``prompt-eval:<role>:<version>:<case id>``); with ``llm.replay =
only`` every answer comes from the record, so an eval in CI costs nothing and needs no key (a miss fails, naming
the case). A baseline is the score a version once had on a case set, kept in a JSON file (``evals/cases/
baselines.json`` by default) so a fresh clone gates on it; the gate fails when a bound is violated at all, or when
the schema-valid rate, the agreement or the P&L impact falls below the baseline by more than the tolerance.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

from evals.prompt_cases import CASES_DIR, PromptCase
from evals.scorers import PromptScore, Tally
from graph.config import DeskConfig
from graph.providers.base import review_all
from graph.providers.factory import provider_for
from graph.providers.scope import call_scope
from memory.store import Store

BASELINES = CASES_DIR / "baselines.json"
GATED = ("schema_valid_rate", "agreement", "pnl_impact")


def with_prompt(config: DeskConfig, role: str, version: str, provider: str | None = None) -> DeskConfig:
    """The configuration with ``role`` on prompt ``version`` (and on ``provider``, when given)."""
    llm = config.llm
    update: dict = {"prompt_versions": {**llm.prompt_versions, role: version}}
    if provider is not None:
        update[role] = getattr(llm, role).model_copy(update={"provider": provider})
    return config.model_copy(update={"llm": llm.model_copy(update=update)})


def run_prompt(config: DeskConfig, role: str, version: str, cases: Sequence[PromptCase], store: Store) -> PromptScore:
    """Every case asked of ``role`` on prompt ``version``; the answers scored. ``store`` holds the LLM record."""
    provider = provider_for(config, store=store)
    tally = Tally()
    for case in cases:
        with call_scope(f"prompt-eval:{role}:{version}:{case.id}", case.as_of):
            if role == "overlay":
                tally.overlay(case, review_all(provider, case.proposals, case.snapshot, case.features))
            elif role == "weather":
                tally.weather(case, provider.weather(case.snapshot))
            else:
                assert case.book is not None, f"risk case {case.id} has no book"
                tally.risk(case, provider.review_book(case.entries, case.snapshot, case.book))
    return tally.score()


def case_set_id(paths: Sequence[Path]) -> str:
    """Names and content hash of the case files: a baseline holds for exactly these cases."""
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in paths)).hexdigest()[:12]
    return "+".join(p.stem for p in paths) + f"@{digest}"


def baseline_key(role: str, provider: str, model: str, version: str, cases: str) -> str:
    return f"{role}|{provider}|{model}|{version}|{cases}"


def read_baselines(path: Path) -> dict[str, dict]:
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def save_baseline(path: Path, key: str, score: PromptScore) -> None:
    data = read_baselines(path)
    data[key] = {k: getattr(score, k) for k in (*GATED, "bound_violations", "cases")}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)


def gate(score: PromptScore, baseline: dict, tolerance: float) -> list[str]:
    """Why ``score`` fails against ``baseline`` (empty: it passes)."""
    failed = [f"{score.bound_violations} bound violation(s) ({score.violations[0]})"] if score.bound_violations else []
    for name in GATED:
        was, now = baseline.get(name), getattr(score, name)
        if was is None:
            continue
        if now is None or now < was - tolerance:
            failed.append(f"{name} {_fmt(now)} < baseline {_fmt(was)} - {tolerance:g}")
    return failed


def _fmt(x: float | None) -> str:
    return "none" if x is None else f"{x:.4g}"
