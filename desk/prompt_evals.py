"""The command core of the prompt evals: `desk eval build-cases` and `desk eval prompts`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

from desk.actions.setup import bootstrap, check_universe
from desk.actor import Actor
from desk.config import Settings
from desk.errors import DeskError
from desk.core.args import BuildCasesArgs, EvalPromptsArgs
from desk.core.context import CommandContext
from desk.results import Result
from evals.capture import Capturing
from evals.prompt_cases import CASES_DIR, ROLES, cases_of_night, check_development_range, load_cases, write_cases
from evals.prompt_eval import BASELINES, baseline_key, case_set_id, gate, read_baselines, run_prompt, save_baseline
from evals.prompt_eval import with_prompt
from evals.replay import replay
from evals.scorers import PromptScore
from memory.locks import desk_lock
from memory.store import open_store
from prompts.catalog import spec
from graph.providers.factory import PROMPTS_OF
from tools.market import MarketView

TRIAL_KIND = "prompt_eval"
PROVIDERS = ("rules", "openai", "anthropic")
Progress = Callable[[str], None]


class BuiltCases(Result):
    files: dict[str, str]
    cases: dict[str, int]
    nights: int
    holdout: bool


class GateFailed(DeskError):
    """A prompt scored below its stored baseline."""


class PromptEval(Result):
    """A version A/B table: one score per prompt version, over one case set."""

    role: str
    provider: str
    model: str
    case_set: str
    replay: str
    scores: dict[str, PromptScore]
    baselines: dict[str, dict | None]
    gate: dict[str, list[str]] | None = None


def parse_roles(text: str) -> list[str]:
    roles = [r.strip() for r in text.split(",") if r.strip()]
    bad = [r for r in roles if r not in ROLES]
    if bad or not roles:
        raise DeskError(f"unknown role {', '.join(bad) or text!r}: use overlay, weather or risk (comma-separated)")
    return roles


def build_cases(settings: Settings, start: date, end: date, *, roles: Sequence[str], every: int = 1,
                out_dir: Path | None = None, holdout: bool = False, actor: Actor,
                progress: Progress = lambda msg: None) -> BuiltCases:
    """Replay ``start`` .. ``end`` with the desk's provider, keeping what each role was shown, answered and what
    happened next: one JSONL file per role. Development sets from before 2019 only."""
    if end < start:
        raise DeskError(f"--to {end} is before --from {start}")
    if every < 1:
        raise DeskError(f"--every must be 1 or more, got {every}")
    check_development_range(start, end, holdout)
    store = open_store(settings)
    with desk_lock(settings, "book", "loading the bundled data"):
        bootstrap(store, settings, actor, ())
    check_universe(store, settings)
    box: dict[str, Capturing] = {}

    def wrap(provider):
        box["c"] = Capturing(provider)
        return box["c"]

    name = f"cases-{start}_{end}"
    with desk_lock(settings, f"replay-{name}", f"building cases from {start} .. {end}"):
        replay(settings, start, end, progress, name=name, wrap=wrap)
    close = MarketView(store, tuple(settings.data.universe), settings.data.benchmark).close
    nights = sorted(box["c"].nights.values(), key=lambda n: n.day)[::every]
    folder = out_dir or CASES_DIR
    suffix = f"{start}_{end}" + ("-holdout" if holdout else "")
    files, counts = {}, {}
    for role in roles:
        cases = [c for n in nights for c in cases_of_night(n, close, settings.data.benchmark, [role])]
        path = folder / f"{role}-{suffix}.jsonl"
        counts[role] = write_cases(path, cases)
        files[role] = str(path)
    return BuiltCases(files=files, cases=counts, nights=len(nights), holdout=holdout)


def default_case_files(role: str) -> list[Path]:
    """The shipped development and hand-written sets of a role (hold-out sets only when named)."""
    return sorted(p for p in CASES_DIR.glob(f"{role}-*.jsonl") if not p.stem.endswith("-holdout"))


def prompts(settings: Settings, role: str, versions: Sequence[str], *, provider: str | None = None,
            case_files: Sequence[Path] = (), check: bool = False, save: bool = False,
            baselines: Path = BASELINES, tolerance: float = 0.02,
            progress: Progress = lambda msg: None) -> PromptEval:
    """Score each prompt version of ``role`` over the case files; record each as a trial; gate or save baselines."""
    if role not in ROLES:
        raise DeskError(f"unknown role {role!r}: use overlay, weather or risk")
    if not versions:
        raise DeskError("--prompt needs at least one version: --prompt v1 or --prompt v1,v2")
    for v in versions:
        for prompt in PROMPTS_OF[role](settings.llm):
            try:
                spec(prompt, v)
            except ValueError as exc:
                raise DeskError(f"--prompt {v}: {exc}") from None
    if provider is not None and provider not in PROVIDERS:
        import difflib

        hint = difflib.get_close_matches(provider, PROVIDERS, n=1)
        raise DeskError(f"unknown provider {provider!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
                        + f": use {', '.join(PROVIDERS)}")
    files = list(case_files) or default_case_files(role)
    if not files:
        raise DeskError(f"no {role} case set in {CASES_DIR}: build one with `desk eval build-cases`, or pass --cases")
    cases = [c for f in files for c in load_cases(f, role)]
    if not cases:
        raise DeskError(f"the case files hold no {role} case: {', '.join(p.name for p in files)}")
    set_id = case_set_id(files)
    store = open_store(settings)
    resolved = with_prompt(settings, role, versions[0], provider).llm.role(role)
    known = read_baselines(baselines)
    keys = {v: baseline_key(role, resolved.provider, resolved.model, v, set_id) for v in versions}
    missing = [k for k in keys.values() if k not in known]
    if check and missing:  # refused before anything is asked or recorded
        raise DeskError(f"no stored baseline for {missing[0]} in {baselines}: save one with --save-baseline")
    scores, stored, verdicts = {}, {}, {}
    for v in versions:
        config = with_prompt(settings, role, v, provider)
        progress(f"{role} prompt {v}: {len(cases)} case(s) from {set_id} on {resolved.provider} {resolved.model}")
        score = run_prompt(config, role, v, cases, store)
        key = keys[v]
        store.record_trial(TRIAL_KIND, {"role": role, "provider": resolved.provider, "model": resolved.model,
                                        "prompt_version": v, "method": resolved.method, "case_set": set_id},
                           min(c.as_of for c in cases), max(c.as_of for c in cases), score.model_dump())
        scores[v], stored[v] = score, known.get(key)
        if check:
            verdicts[v] = gate(score, stored[v], tolerance)
        if save:
            save_baseline(baselines, key, score)
    result = PromptEval(role=role, provider=resolved.provider, model=resolved.model, case_set=set_id,
                        replay=settings.llm.replay, scores=scores, baselines=stored,
                        gate=verdicts if check else None)
    return result


def raise_if_failed(result: PromptEval) -> None:
    failed = {v: why for v, why in (result.gate or {}).items() if why}
    if failed:
        v, why = next(iter(failed.items()))
        more = f" (and {len(failed) - 1} more version(s))" if len(failed) > 1 else ""
        raise GateFailed(f"prompt gate failed: {result.role} {v} on {result.case_set}: {'; '.join(why)}{more}")


def build_cases_command(ctx: CommandContext, args: BuildCasesArgs) -> BuiltCases:
    if args.start is None or args.end is None:
        raise DeskError("building cases needs a range: desk eval build-cases --from YYYY-MM-DD --to YYYY-MM-DD")
    return build_cases(ctx.settings, args.start, args.end, roles=parse_roles(args.role), every=args.every,
                       out_dir=args.out_dir, holdout=args.holdout, actor=ctx.actor, progress=ctx.progress)


def prompts_command(ctx: CommandContext, args: EvalPromptsArgs) -> PromptEval:
    """`eval prompts` for the command core; a failed gate is in the result (the command line exits 2 on it)."""
    from desk.actions.setup import with_section

    if args.role is None:
        raise DeskError("a prompt eval needs a role: desk eval prompts --role overlay|weather|risk --prompt v1,v2")
    versions = [v.strip() for v in args.prompt.split(",") if v.strip()]
    settings = with_section(ctx.settings, "llm", {"replay": args.llm_replay} if args.llm_replay else {})
    return prompts(settings, args.role, versions, provider=args.provider, case_files=args.cases, check=args.gate,
                   save=args.save_baseline, baselines=args.baselines or BASELINES, tolerance=args.tolerance,
                   progress=ctx.progress)
