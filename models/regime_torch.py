"""The regime ensemble's torch side: the two networks and their training (models.regime holds the rest; inference
never imports this module)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from models.metrics import majority
from models.nn import class_weights, fit, torch_runtime
from models.scaling import Standardizer
from models.training import Rows
from vocab.terms import REGIME_NAMES

K = len(REGIME_NAMES)


class GRUAttention(nn.Module):
    """GRU, additive attention over its outputs (Bahdanau et al. 2015), a linear head."""

    def __init__(self, n_in: int, hidden: int, layers: int, dropout: float) -> None:
        super().__init__()
        self.gru = nn.GRU(n_in, hidden, layers, batch_first=True, dropout=dropout if layers > 1 else 0.0)
        self.att = nn.Linear(hidden, hidden)
        self.score = nn.Linear(hidden, 1)
        self.head = nn.Linear(hidden, K)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = self.gru(x)
        weights = torch.softmax(self.score(torch.tanh(self.att(h))).squeeze(-1), dim=1)
        return self.head((weights.unsqueeze(-1) * h).sum(dim=1))


def sinusoidal(length: int, width: int) -> torch.Tensor:
    position = torch.arange(length, dtype=torch.float32).unsqueeze(1)
    freq = torch.exp(torch.arange(0, width, 2, dtype=torch.float32) * (-math.log(10000.0) / width))
    pe = torch.zeros(length, width)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(position * freq), torch.cos(position * freq)
    return pe


class TransformerCLS(nn.Module):
    """Linear embedding, a learnt CLS token in front, sinusoidal positions, a post-norm encoder, a head on CLS."""

    def __init__(self, n_in: int, length: int, width: int, heads: int, layers: int, ff: int, dropout: float) -> None:
        super().__init__()
        self.proj = nn.Linear(n_in, width)
        self.cls = nn.Parameter(torch.randn(1, 1, width) * 0.02)
        self.register_buffer("pe", sinusoidal(length + 1, width))
        layer = nn.TransformerEncoderLayer(width, heads, ff, dropout, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(width, K)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = torch.cat([self.cls.expand(len(x), -1, -1), self.proj(x)], dim=1) + self.pe
        return self.head(self.encoder(z)[:, 0])


def build_nets(params: dict[str, Any]) -> dict[str, nn.Module]:
    n_in = len(params["features"])
    return {"gru": GRUAttention(n_in, params["gru_hidden"], params["gru_layers"], params["dropout"]),
            "transformer": TransformerCLS(n_in, params["sequence"], params["tf_d_model"], params["tf_heads"],
                                          params["tf_layers"], params["tf_ff"], params["dropout"])}


def fit_nets(train: Rows, recipe: dict[str, Any], progress) -> tuple[dict[str, nn.Module], dict[str, Any]]:
    scaler = Standardizer.fit(train.data["x"])
    x = torch.from_numpy(scaler.transform(train.data["x"]))
    y = torch.from_numpy(train.data["y"])
    weights = class_weights(train.data["y"], K) if recipe["class_weighted"] else None
    loss = lambda net, xb, yb: nn.functional.cross_entropy(net(xb), yb, weight=weights)
    with torch_runtime(recipe["threads"]):
        nets = {}
        for offset, key in enumerate(("gru", "transformer")):
            torch.manual_seed(recipe["seed"] + offset)
            nets[key] = build_nets(recipe)[key]
            fit(nets[key], loss, (x, y), epochs=recipe["epochs"], batch_size=recipe["batch_size"], lr=recipe["lr"],
                weight_decay=recipe["weight_decay"], seed=recipe["seed"] + offset, progress=progress)
    return nets, {"scaler": scaler.to_dict(), "majority": majority(train.data["y"]),
                  "class_counts": np.bincount(train.data["y"], minlength=K).tolist()}
