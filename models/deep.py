"""The base of the deep models: provenance, weights as numpy arrays, JSON state, save and load - without torch.

Training builds torch networks (each model's ``*_torch`` module); the trained weights are kept as float64 numpy
arrays (an exact copy of the float32 parameters) and inference runs them through models.kernels, so a process
that only predicts - a night run, a replay - never imports torch (about 1.3 s of start-up on this machine).
``nets`` rebuilds the torch modules from the arrays on demand (tests compare the two; fine-tuning could start
from them). Saved layout: ``weights.npz`` (keys ``<net>::<parameter>``) plus ``meta.json`` (recipe, state,
metrics, provenance and the content hash of ``weights.npz``, models.base).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from models.base import RecipeFields, dates_of, read_meta, write_meta

FORMAT = 2
WEIGHTS = "weights.npz"
_SEP = "::"

Arrays = dict[str, dict[str, np.ndarray]]


def arrays_of(nets: dict[str, Any]) -> Arrays:
    """Every network's parameters and buffers as float64 numpy arrays (duck-typed on ``state_dict``)."""
    return {key: {name: value.detach().cpu().numpy().astype(np.float64) for name, value in net.state_dict().items()}
            for key, net in nets.items()}


@dataclass(eq=False)
class DeepModel(RecipeFields):
    """A fitted deep model with its provenance; ``validation_model`` (the head-only fit) lives in memory only."""

    version: str
    cutoff: date
    trained_on: tuple[date, date]
    n_rows: int
    params: dict[str, Any]
    metrics: dict[str, Any]
    arrays: Arrays = field(repr=False)
    state: dict[str, Any] = field(repr=False)
    train_seconds: float | None = None
    code: str | None = None
    validation_model: DeepModel | None = field(default=None, repr=False)
    torch_nets: dict[str, Any] | None = field(default=None, repr=False)
    name: ClassVar[str] = ""


    @staticmethod
    def build_nets(params: dict[str, Any]) -> dict[str, Any]:
        """Fresh torch networks for a recipe (imports torch)."""
        raise NotImplementedError

    @property
    def nets(self) -> dict[str, Any]:
        """The torch networks: the trained ones, or rebuilt from the arrays (imports torch)."""
        if self.torch_nets is None:
            import torch

            nets = self.build_nets(self.params)
            for key, net in nets.items():
                net.load_state_dict({k: torch.from_numpy(v.astype(np.float32)) for k, v in self.arrays[key].items()})
                net.eval()
            self.torch_nets = nets
        return self.torch_nets

    @property
    def kernels(self) -> Any:
        """The numpy inference kernels, built from the arrays on first use."""
        if "_kernels" not in self.__dict__:
            self.__dict__["_kernels"] = self._export()
        return self.__dict__["_kernels"]

    def _export(self) -> Any:
        raise NotImplementedError

    def save(self, directory: Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        flat = {f"{key}{_SEP}{name}": value for key, params in sorted(self.arrays.items())
                for name, value in params.items()}
        np.savez(directory / WEIGHTS, **flat)
        write_meta(directory, {
            "format": FORMAT, "name": self.name, "version": self.version, "cutoff": self.cutoff.isoformat(),
            "trained_on": [day.isoformat() for day in self.trained_on], "n_rows": self.n_rows,
            "params": self.params, "metrics": self.metrics, "state": self.state, "horizon": self.horizon,
            "features": list(self.features), "seed": self.seed, "train_seconds": self.train_seconds,
            "code_version": self.code,
        })

    @classmethod
    def load(cls, directory: Path) -> DeepModel:
        directory = Path(directory)
        meta = read_meta(directory)
        if meta.get("name") != cls.name:
            raise ValueError(f"{directory} holds a {meta.get('name')!r} model, not {cls.name!r}")
        if meta.get("format") != FORMAT:
            raise ValueError(f"{directory} is in artifact format {meta.get('format')}, not {FORMAT}; retrain it")
        arrays: Arrays = {}
        with np.load(directory / WEIGHTS, allow_pickle=False) as saved:
            for flat in saved.files:
                key, _, name = flat.partition(_SEP)
                arrays.setdefault(key, {})[name] = saved[flat]
        cutoff, trained_on = dates_of(meta)
        return cls(version=meta["version"], cutoff=cutoff, trained_on=trained_on, n_rows=meta["n_rows"],
                   params=meta["params"], metrics=meta["metrics"], arrays=arrays, state=meta["state"],
                   train_seconds=meta.get("train_seconds"), code=meta.get("code_version"))
