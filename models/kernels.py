"""Numpy forward passes of the trained torch layers, for inference.

Why: a whole-universe inference call must take under 2 ms at the 99th percentile (issue 9). Per-op dispatch in
torch costs microseconds, and ncps' wired CfC re-masks its weights and loops over three layers at every step
(about 7 ms for 20 sequences of 21 steps), so the trained weights are exported once into these float64 numpy
functions. They compute exactly what the torch modules compute (tests/test_deep_models.py checks agreement to
1e-5 against torch for every kernel); training always uses the torch modules.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

Params = dict[str, np.ndarray]


def linear(x: np.ndarray, p: Params, prefix: str) -> np.ndarray:
    return x @ p[f"{prefix}.weight"].T + p[f"{prefix}.bias"]


def layer_norm(x: np.ndarray, p: Params, prefix: str, eps: float = 1e-5) -> np.ndarray:
    centred = x - x.mean(axis=-1, keepdims=True)
    var = (centred * centred).mean(axis=-1, keepdims=True)
    return centred / np.sqrt(var + eps) * p[f"{prefix}.weight"] + p[f"{prefix}.bias"]


class GRU:
    """torch.nn.GRU (batch_first, gates ordered r, z, n), exported: ``GRU(params, prefix, layers)(x)`` gives the
    last layer's outputs, batch × time × hidden. Layer by layer: each layer's input projection is one matmul
    over the whole sequence, then one small matmul per step. (A skewed schedule running both layers in one
    matmul per step was tried and is slower here: 0.73 vs 0.55 ms for one 21-step sequence.)"""

    def __init__(self, p: Params, prefix: str, layers: int) -> None:
        self.layers = [(p[f"{prefix}.weight_ih_l{i}"].T.copy(), p[f"{prefix}.bias_ih_l{i}"],
                        p[f"{prefix}.weight_hh_l{i}"].T.copy(), p[f"{prefix}.bias_hh_l{i}"]) for i in range(layers)]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        seq = x
        for w_in, b_in, w_h, b_h in self.layers:
            gi = seq @ w_in + b_in
            hidden = w_h.shape[0]
            h = np.zeros((x.shape[0], hidden))
            out = np.empty(x.shape[:2] + (hidden,))
            for t in range(x.shape[1]):
                gh = h @ w_h + b_h
                g = gi[:, t]
                rz = expit(g[:, :2 * hidden] + gh[:, :2 * hidden])
                n = np.tanh(g[:, 2 * hidden:] + rz[:, :hidden] * gh[:, 2 * hidden:])
                h = n + rz[:, hidden:] * (h - n)
                out[:, t] = h
            seq = out
        return seq


def transformer_layer(x: np.ndarray, p: Params, prefix: str, heads: int, first_only: bool = False) -> np.ndarray:
    """torch.nn.TransformerEncoderLayer in eval mode (post-norm, ReLU, batch_first). With ``first_only`` only the
    first position's output is computed (all positions still serve as keys and values): what a CLS head reads."""
    b, t, e = x.shape
    hd = e // heads
    qkv = x @ p[f"{prefix}.self_attn.in_proj_weight"].T + p[f"{prefix}.self_attn.in_proj_bias"]
    if first_only:
        qkv_q, x = qkv[:, :1], x[:, :1]
    else:
        qkv_q = qkv
    tq = qkv_q.shape[1]
    q = qkv_q[..., :e].reshape(b, tq, heads, hd).transpose(0, 2, 1, 3)
    k, v = (qkv[..., i * e:(i + 1) * e].reshape(b, t, heads, hd).transpose(0, 2, 1, 3) for i in (1, 2))
    scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(hd)
    scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
    att = (scores / scores.sum(axis=-1, keepdims=True)) @ v
    att = att.transpose(0, 2, 1, 3).reshape(b, tq, e)
    x = layer_norm(x + linear(att, p, f"{prefix}.self_attn.out_proj"), p, f"{prefix}.norm1")
    ff = linear(np.maximum(linear(x, p, f"{prefix}.linear1"), 0.0), p, f"{prefix}.linear2")
    return layer_norm(x + ff, p, f"{prefix}.norm2")


class WiredCfC:
    """ncps ``CfC(input, AutoNCP(...), return_sequences=False)`` in ``default`` mode with unit time spans, from the
    trained module's state arrays (``p``: names under ``prefix``, e.g. ``cfc.rnn_cell``).

    The wired cell's layers feed forward (inter -> command -> motor neurons) within a step, so all layers advance
    together on a skewed schedule: at iteration k layer l processes step k - l. One matmul per iteration then
    serves every layer: T + L - 1 iterations instead of T * L layer-steps (7 ms -> 0.6 ms for 20 x 21 steps).
    """

    def __init__(self, p: Params, prefix: str) -> None:
        layers = []
        while f"{prefix}.layer_{len(layers)}.ff1.weight" in p:
            layers.append(f"{prefix}.layer_{len(layers)}")
        if not layers:
            raise KeyError(f"no wired CfC layers under {prefix!r}")
        sizes = [p[f"{layer}.ff1.weight"].shape[0] for layer in layers]
        self.sizes = sizes
        n = sum(sizes)
        offsets = np.cumsum([0, *sizes])
        self.n_inputs = p[f"{layers[0]}.ff1.weight"].shape[1] - sizes[0]
        self.w_in = np.zeros((self.n_inputs, 3 * n))
        self.w_rec = np.zeros((n, 3 * n))
        self.bias = np.zeros(3 * n)
        for i, layer in enumerate(layers):
            mask = p.get(f"{layer}.sparsity_mask", 1.0)
            n_in = p[f"{layer}.ff1.weight"].shape[1] - sizes[i]
            gates = ((p[f"{layer}.ff1.weight"] * mask, p[f"{layer}.ff1.bias"]),
                     (p[f"{layer}.ff2.weight"] * mask, p[f"{layer}.ff2.bias"]),
                     (p[f"{layer}.time_a.weight"] + p[f"{layer}.time_b.weight"],
                      p[f"{layer}.time_a.bias"] + p[f"{layer}.time_b.bias"]))
            lo, hi = offsets[i], offsets[i + 1]
            for g, (w, b) in enumerate(gates):
                cols = slice(g * n + lo, g * n + hi)
                self.bias[cols] = b
                if i == 0:
                    self.w_in[:, cols] = w[:, :n_in].T
                else:
                    self.w_rec[offsets[i - 1]:offsets[i], cols] = w[:, :n_in].T
                self.w_rec[lo:hi, cols] = w[:, n_in:].T
        self.n = n
        self.out = slice(offsets[-2], offsets[-1])
        # before layer l has its first step (iterations k < l) its state must stay at the zero initial state
        self.start_masks = [np.concatenate([np.full(s, 1.0 if i <= k else 0.0) for i, s in enumerate(sizes)])
                            for k in range(len(sizes) - 1)]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Batch × time × inputs -> batch × motor neurons (the output at the last step)."""
        b, t, _ = x.shape
        n, depth = self.n, len(self.sizes)
        pre = np.zeros((t + depth - 1, b, 3 * n))
        pre[:t] = (x @ self.w_in).transpose(1, 0, 2)
        pre += self.bias
        h = np.zeros((b, n))
        for k in range(t + depth - 1):
            z = pre[k] + h @ self.w_rec
            f = np.tanh(z[:, :2 * n])
            g = expit(z[:, 2 * n:])
            h = f[:, :n] + g * (f[:, n:] - f[:, :n])
            if k < depth - 1:
                h *= self.start_masks[k]
        return h[:, self.out]
