"""Test kit for the model tests: real market inputs (pre-2019 only), tiny recipes, a toy registered model, and
hand-made evaluations for the promotion rule."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from models.base import read_meta, write_meta
from models.metrics import Evaluation
from models.promotion import Evidence

END = date(2012, 12, 31)          # model tests never read the hold-out (2019 on), nor most of the validation era
TINY: dict[str, dict[str, Any]] = {
    "regime": {"epochs": 1, "gru_hidden": 8, "tf_d_model": 8, "tf_ff": 16, "stride": 10},
    "health": {"epochs": 1, "stride": 10, "train_years": 4, "hidden": 8, "latent": 4},
    "direction": {"epochs": 1, "stride": 20, "train_years": 4, "ncp_units": 8, "ncp_motor": 2, "dense": 8},
    "mean_reversion": {"train_years": 4},
}
TOY_LOADERS = {"toy": "tests.model_kit:ToyModel"}


def market_frames(home: Path) -> dict[str, Any]:
    """The seeded store's frames as the desk computes them (tools.market.MarketView)."""
    from desk.config import load_settings
    from memory.store import Store
    from tools.market import MarketView

    settings = load_settings(home=home)
    store = Store(settings.store_path)
    view = MarketView(store, tuple(settings.data.universe), settings.data.benchmark, cache_dir=home / "cache")
    view.ensure()
    _ = view.close, view.sessions                      # read everything lazy before the store closes
    frames = {"view": view, "volume": store.frame("volume")}
    store.close()
    return frames


def evaluation(value: float | None, baseline: float = 0.5, metric: str = "auc", n_rows: int = 500,
               start: str = "2010-01-04", end: str = "2010-12-31") -> Evaluation:
    n_dates = 250
    ahead = value is not None and value > baseline
    margin = {"versus": "zero_skill", "margin": (value or 0.0) - baseline, "low": 0.01 if ahead else -0.01,
              "high": 0.05, "p_value": 0.001 if ahead else 0.6, "n_dates": n_dates, "resamples": 300, "block": 5}
    return Evaluation(metric, value, {"zero_skill": baseline}, n_rows, n_dates, start, end, extra={"margin": margin})


def passing_evidence(metric: str = "auc", incumbent: str | None = None) -> Evidence:
    """Evidence that passes the baseline test (for tests that need a promoted model to exist)."""
    return Evidence(metric, evaluation(0.9, 0.0, metric), incumbent)


@dataclass(eq=False)
class ToyModel:
    """A registered model with a payload written slowly in chunks: a wide window for a reader to catch a
    half-written artifact if saving were not atomic."""

    version: str
    cutoff: date
    trained_on: tuple[date, date]
    params: dict[str, Any] = field(default_factory=lambda: {"horizon": 5, "features": ["x"], "seed": 1})
    metrics: dict[str, Any] = field(default_factory=dict)
    payload: bytes = b""
    name: str = "toy"

    @property
    def horizon(self) -> int:
        return int(self.params["horizon"])

    @property
    def features(self) -> tuple[str, ...]:
        return tuple(self.params["features"])

    @property
    def seed(self) -> int:
        return int(self.params["seed"])

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        with open(directory / "payload.bin", "wb") as handle:
            for lo in range(0, len(self.payload), 1 << 16):
                handle.write(self.payload[lo:lo + (1 << 16)])
                handle.flush()
                time.sleep(0.001)
        write_meta(directory, {"name": self.name, "version": self.version, "cutoff": self.cutoff.isoformat(),
                               "trained_on": [d.isoformat() for d in self.trained_on], "params": self.params,
                               "metrics": self.metrics, "horizon": self.horizon, "features": list(self.features),
                               "seed": self.seed})

    @classmethod
    def load(cls, directory: Path) -> ToyModel:
        meta = read_meta(directory)       # verifies the content hash
        first, last = (date.fromisoformat(d) for d in meta["trained_on"])
        return cls(meta["version"], date.fromisoformat(meta["cutoff"]), (first, last), meta["params"],
                   meta["metrics"], (directory / "payload.bin").read_bytes())


def toy(cutoff: date, tag: str = "a", size: int = 1 << 20, horizon: int = 5) -> ToyModel:
    """A toy model whose payload is a deterministic function of its version (so a reader can verify it)."""
    version = f"toy-{cutoff.isoformat()}-{tag}"
    return ToyModel(version, cutoff, (date(2000, 1, 3), cutoff), {"horizon": horizon, "features": ["x"], "seed": 1},
                    {"validation": evaluation(0.6).to_dict()}, payload_for(version, size))


def payload_for(version: str, size: int) -> bytes:
    rng = np.random.default_rng(int(hashlib.sha256(version.encode()).hexdigest()[:8], 16))
    return rng.integers(0, 256, size, dtype=np.uint8).tobytes()


# ---------------------------------------------------------------------------------------------- shared fixtures
import pytest  # noqa: E402 - the fixtures below need it; the helpers above do not

DECISION = date(2012, 4, 2)       # the tiny models are trained for decisions on this date (train_all)


@pytest.fixture(scope="session")
def market(seeded_home) -> dict[str, Any]:
    return market_frames(seeded_home)


@pytest.fixture(scope="session")
def model_inputs(market):
    from models.inputs import ModelInputs

    return ModelInputs.from_view(market["view"]).until(END)


@pytest.fixture(scope="session")
def trained(model_inputs, tmp_path_factory):
    """(registry, {name: TrainOutcome}) after train_all for DECISION with tiny recipes (real decisions)."""
    from models.registry import ModelRegistry
    from models.train import train_all

    registry = ModelRegistry(tmp_path_factory.mktemp("models"))
    events: list = []
    outcomes = train_all(registry, model_inputs, DECISION, recipes=TINY, progress=events.append)
    return registry, {o.name: o for o in outcomes}, events


@pytest.fixture(scope="session")
def promoted(trained, tmp_path_factory):
    """A registry holding the same tiny models, each promoted by hand-made evidence (so the API can be tested
    whatever the tiny models' real out-of-sample figures are)."""
    from models.registry import ModelRegistry

    _, outcomes, _ = trained
    registry = ModelRegistry(tmp_path_factory.mktemp("promoted"))
    for outcome in outcomes.values():
        registry.register(outcome.model)
        registry.decide(outcome.name, outcome.version, passing_evidence(outcome.model.metrics["metric"]))
    return registry
