"""Standardisation fitted on training rows only, numpy-only (inference never needs torch)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CLIP_Z = 5.0          # standardised inputs are clipped at +-5 sd: a print beyond that is an outlier, not a signal


@dataclass(frozen=True)
class Standardizer:
    """Per-feature mean and standard deviation from training rows; transform clips at +-CLIP_Z."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, values: np.ndarray) -> Standardizer:
        flat = values.reshape(-1, values.shape[-1])
        mean = np.nanmean(flat, axis=0)
        std = np.nanstd(flat, axis=0)
        return cls(mean=mean, std=np.where(std > 1e-12, std, 1.0))

    def transform(self, values: np.ndarray, dtype: type = np.float32) -> np.ndarray:
        return np.clip((values - self.mean) / self.std, -CLIP_Z, CLIP_Z).astype(dtype)

    def to_dict(self) -> dict[str, list[float]]:
        return {"mean": [float(v) for v in self.mean], "std": [float(v) for v in self.std]}

    @classmethod
    def from_dict(cls, data: dict[str, list[float]]) -> Standardizer:
        return cls(mean=np.asarray(data["mean"], dtype=float), std=np.asarray(data["std"], dtype=float))
