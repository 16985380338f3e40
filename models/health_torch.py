"""The health autoencoder's torch side: the network and its training (models.health holds the rest; inference
never imports this module)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from models.labels import BEHAVIOURS, VOL_BUCKETS
from models.metrics import majority
from models.nn import class_weights, fit, torch_runtime
from models.scaling import Standardizer
from models.training import Rows


class HealthAE(nn.Module):
    def __init__(self, n_in: int, hidden: int, latent: int, variational: bool) -> None:
        super().__init__()
        self.variational = variational
        self.encoder = nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.mu = nn.Linear(hidden, latent)
        self.logvar = nn.Linear(hidden, latent) if variational else None
        self.decoder = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, n_in))
        head = lambda out: nn.Sequential(nn.Linear(latent, 16), nn.ReLU(), nn.Linear(16, out))
        self.health, self.vol, self.behaviour = head(1), head(len(VOL_BUCKETS)), head(len(BEHAVIOURS))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.encoder(x)
        mu = self.mu(h)
        out = {"mu": mu}
        z = mu
        if self.logvar is not None:
            out["logvar"] = self.logvar(h).clamp(-10.0, 10.0)
            if self.training:
                z = mu + torch.randn_like(mu) * torch.exp(0.5 * out["logvar"])
        out.update(recon=self.decoder(z), health=self.health(z).squeeze(-1), vol=self.vol(z), behaviour=self.behaviour(z))
        return out


def build_nets(params: dict[str, Any]) -> dict[str, nn.Module]:
    return {"ae": HealthAE(len(params["features"]), params["hidden"], params["latent"], params["variational"])}


def fit_nets(train: Rows, recipe: dict[str, Any], progress) -> tuple[dict[str, nn.Module], dict[str, Any]]:
    d = train.data
    scaler = Standardizer.fit(d["x"])
    tensors = (torch.from_numpy(scaler.transform(d["x"])), torch.tensor(d["target"], dtype=torch.float32),
               torch.from_numpy(d["vol"]), torch.from_numpy(d["behaviour"]))
    w_vol, w_beh = class_weights(d["vol"], len(VOL_BUCKETS)), class_weights(d["behaviour"], len(BEHAVIOURS))
    beta = float(recipe["beta"])

    def loss(net: HealthAE, x, target, vol, beh) -> torch.Tensor:
        out = net(x)
        total = (nn.functional.mse_loss(out["recon"], x)
                 + nn.functional.binary_cross_entropy_with_logits(out["health"], target)
                 + nn.functional.cross_entropy(out["vol"], vol, weight=w_vol)
                 + nn.functional.cross_entropy(out["behaviour"], beh, weight=w_beh))
        if "logvar" in out:
            kl = -0.5 * (1 + out["logvar"] - out["mu"].pow(2) - out["logvar"].exp()).mean()
            total = total + beta * kl
        return total

    with torch_runtime(recipe["threads"], seed=recipe["seed"]):
        net = build_nets(recipe)["ae"]
        fit(net, loss, tensors, epochs=recipe["epochs"], batch_size=recipe["batch_size"], lr=recipe["lr"],
            weight_decay=recipe["weight_decay"], seed=recipe["seed"], progress=progress)
    return {"ae": net}, {"scaler": scaler.to_dict(), "vol_majority": majority(d["vol"]),
                         "behaviour_majority": majority(d["behaviour"])}
