"""Every model the desk trains, behind one interface, imported lazily (torch loads only when a deep model is used).

Each entry gives the training job (a pure function of inputs, cutoff and recipe), its default recipe, the version
a recipe gets at a cutoff (known before training, so a retrain that already ran is skipped), the label horizon
(the purge gap) and the out-of-sample evaluation on a date range.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import date
from types import ModuleType
from typing import Any

from models.base import make_version
from models.inputs import ModelInputs
from models.metrics import Evaluation


@dataclass(frozen=True)
class Entry:
    name: str
    module: str
    metric: str
    description: str

    @property
    def mod(self) -> ModuleType:
        return importlib.import_module(self.module)

    def recipe(self, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        """The default recipe with ``overrides``; unknown keys are refused (a typo must not train silently)."""
        base = self.mod.default_recipe()
        unknown = sorted(set(overrides or {}) - set(base))
        if unknown:
            raise ValueError(f"{self.name}: unknown recipe keys {unknown}; known: {sorted(base)}")
        return {**base, **(overrides or {})}

    def horizon(self, recipe: dict[str, Any]) -> int:
        return int(recipe["horizon"])

    def version(self, cutoff: date, recipe: dict[str, Any]) -> str:
        if self.name == "mean_reversion":
            return self.mod.version_for(cutoff, recipe)
        return make_version(self.mod.SPEC.prefix, cutoff, recipe)

    def train(self, inputs: ModelInputs, cutoff: date, recipe: dict[str, Any], progress: Any = None) -> Any:
        job = self.mod.train_on if self.name == "mean_reversion" else self.mod.train
        return job(inputs, cutoff, recipe, progress)

    def evaluate_between(self, model: Any, inputs: ModelInputs, start: date, end: date) -> Evaluation:
        return self.mod.evaluate_between(model, inputs, start, end)


CATALOG: dict[str, Entry] = {
    "regime": Entry("regime", "models.regime", "balanced_accuracy",
                    "GRU+attention and Transformer+CLS ensemble: next-21-session regime probabilities and disagreement"),
    "health": Entry("health", "models.health", "rank_ic",
                    "autoencoder asset health: score 0-1, volatility bucket, behaviour"),
    "direction": Entry("direction", "models.direction", "auc",
                       "dense + CfC/AutoNCP dual-branch network: P(up over 21 sessions) per asset"),
    "mean_reversion": Entry("mean_reversion", "models.mean_reversion", "auc",
                            "LightGBM on band z-scores, RSI and related features: P(up over 5 sessions) per asset"),
    "vol_state": Entry("vol_state", "models.vol_state", "loglik",
                       "Gaussian HMM on the index's returns and realised volatility: filtered volatility state"),
    "garch": Entry("garch", "models.garch", "neg_qlike",
                   "GARCH(1,1) per asset: mean annualised volatility forecast over the next 21 sessions"),
    "rl_sizer": Entry("rl_sizer", "models.rl_sizer", "sharpe",
                      "PPO (stable-baselines3) size multiplier for trend longs; promoted only if it beats Kelly"),
}


def entry(name: str) -> Entry:
    if name not in CATALOG:
        import difflib

        close = difflib.get_close_matches(name, list(CATALOG), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown model {name!r}{hint}; known: {', '.join(CATALOG)}")
    return CATALOG[name]
