"""The base of the torch models: provenance, networks, JSON state, save and load.

A subclass sets ``name``, builds its networks from a recipe (``build_nets``) and exports them to numpy kernels
(``_export``) for inference. Saved layout: one ``<net>.pt`` state dict per network plus ``meta.json`` (recipe,
state, metrics, provenance and the content hash of the ``.pt`` files, models.base).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from models.base import dates_of, read_meta, write_meta

FORMAT = 1


@dataclass(eq=False)
class DeepModel:
    """A fitted torch model with its provenance; ``validation_model`` (the head-only fit) lives in memory only."""

    version: str
    cutoff: date
    trained_on: tuple[date, date]
    n_rows: int
    params: dict[str, Any]
    metrics: dict[str, Any]
    nets: dict[str, nn.Module] = field(repr=False)
    state: dict[str, Any] = field(repr=False)
    train_seconds: float | None = None
    code: str | None = None
    validation_model: DeepModel | None = field(default=None, repr=False)
    name: ClassVar[str] = ""

    @property
    def horizon(self) -> int:
        return int(self.params["horizon"])

    @property
    def features(self) -> tuple[str, ...]:
        return tuple(self.params["features"])

    @property
    def seed(self) -> int:
        return int(self.params["seed"])

    @staticmethod
    def build_nets(params: dict[str, Any]) -> dict[str, nn.Module]:
        raise NotImplementedError

    @property
    def kernels(self) -> Any:
        """The numpy export of the networks, built on first use."""
        if "_kernels" not in self.__dict__:
            self.__dict__["_kernels"] = self._export()
        return self.__dict__["_kernels"]

    def _export(self) -> Any:
        raise NotImplementedError

    def save(self, directory: Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for key, net in sorted(self.nets.items()):
            torch.save(net.state_dict(), directory / f"{key}.pt")
        write_meta(directory, {
            "format": FORMAT, "name": self.name, "version": self.version, "cutoff": self.cutoff.isoformat(),
            "trained_on": [day.isoformat() for day in self.trained_on], "n_rows": self.n_rows,
            "params": self.params, "metrics": self.metrics, "state": self.state, "horizon": self.horizon,
            "features": list(self.features), "seed": self.seed, "train_seconds": self.train_seconds,
            "code_version": self.code, "torch": torch.__version__,
        })

    @classmethod
    def load(cls, directory: Path) -> DeepModel:
        directory = Path(directory)
        meta = read_meta(directory)
        if meta.get("name") != cls.name:
            raise ValueError(f"{directory} holds a {meta.get('name')!r} model, not {cls.name!r}")
        nets = cls.build_nets(meta["params"])
        for key, net in nets.items():
            net.load_state_dict(torch.load(directory / f"{key}.pt", weights_only=True))
            net.eval()
        cutoff, trained_on = dates_of(meta)
        return cls(version=meta["version"], cutoff=cutoff, trained_on=trained_on, n_rows=meta["n_rows"],
                   params=meta["params"], metrics=meta["metrics"], nets=nets, state=meta["state"],
                   train_seconds=meta.get("train_seconds"), code=meta.get("code_version"))
