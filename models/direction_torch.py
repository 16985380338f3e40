"""The direction model's torch side: the dual-branch network (dense + ncps CfC with AutoNCP wiring) and its
training (models.direction holds the rest; inference never imports this module or ncps)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from ncps.torch import CfC
from ncps.wirings import AutoNCP
from torch import nn

from models.nn import fit, torch_runtime
from models.scaling import Standardizer
from models.training import Rows


class DualBranch(nn.Module):
    def __init__(self, n_static: int, n_seq: int, units: int, motor: int, dense: int, dropout: float,
                 wiring_seed: int) -> None:
        super().__init__()
        self.dense = nn.Sequential(nn.Linear(n_static, dense), nn.ReLU(), nn.Dropout(dropout),
                                   nn.Linear(dense, 16), nn.ReLU())
        self.cfc = CfC(n_seq, AutoNCP(units, motor, seed=wiring_seed), return_sequences=False, batch_first=True)
        self.head = nn.Sequential(nn.Linear(16 + motor, 16), nn.ReLU(), nn.Linear(16, 1))

    def forward(self, static: torch.Tensor, seq: torch.Tensor) -> torch.Tensor:
        motor, _ = self.cfc(seq)
        return self.head(torch.cat([self.dense(static), motor], dim=1)).squeeze(-1)


def build_nets(params: dict[str, Any]) -> dict[str, nn.Module]:
    return {"net": DualBranch(len(params["features"]), len(params["sequence_channels"]), params["ncp_units"],
                              params["ncp_motor"], params["dense"], params["dropout"], params["seed"])}


def fit_nets(train: Rows, recipe: dict[str, Any], progress) -> tuple[dict[str, nn.Module], dict[str, Any]]:
    d = train.data
    scaler = Standardizer.fit(d["static"])
    tensors = (torch.from_numpy(scaler.transform(d["static"])), torch.from_numpy(np.clip(d["seq"], -5.0, 5.0)),
               torch.from_numpy(d["y"]))
    loss = lambda net, x, seq, y: nn.functional.binary_cross_entropy_with_logits(net(x, seq), y)
    with torch_runtime(recipe["threads"], seed=recipe["seed"]):
        net = build_nets(recipe)["net"]
        fit(net, loss, tensors, epochs=recipe["epochs"], batch_size=recipe["batch_size"], lr=recipe["lr"],
            weight_decay=recipe["weight_decay"], seed=recipe["seed"], progress=progress)
    return {"net": net}, {"static": scaler.to_dict(), "base_rate": round(float(d["y"].mean()), 6)}
