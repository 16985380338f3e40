"""Torch plumbing shared by the deep models' training: a deterministic single-thread runtime and one training
loop (inference does not import torch: models.deep, models.kernels).

Why these defaults: the machine is a shared 2-core CPU, so training runs on one thread unless the recipe says
otherwise; ``torch.use_deterministic_algorithms`` plus fixed seeds for weights and for the batch order make the
same data and seed give the same weights, metrics and predictions. Adam with lr 1e-3 and a 1e-4 weight decay and
gradient-norm clipping at 1.0 are the textbook defaults for small recurrent and attention networks (Kingma & Ba
2015; Pascanu et al. 2013), not values tuned on this data.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
from torch import nn

GRAD_CLIP = 1.0
Progress = Callable[[int, int, float], None]   # (epoch, epochs, mean loss)


def _set_deterministic(mode: bool) -> None:
    """torch.use_deterministic_algorithms without its import of torch._inductor (about 3 s per process, and only
    torch.compile reads the flag it sets there); falls back to the public call if the private setter moves."""
    setter = getattr(torch._C, "_set_deterministic_algorithms", None)
    if setter is None:
        torch.use_deterministic_algorithms(mode)
    else:
        setter(mode, warn_only=False)


@contextlib.contextmanager
def torch_runtime(threads: int = 1, seed: int | None = None) -> Iterator[None]:
    """Run a block with ``threads`` intra-op threads, deterministic algorithms and (optionally) a seeded RNG;
    restore the process's previous settings afterwards."""
    old_threads = torch.get_num_threads()
    old_det = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(max(1, int(threads)))
    _set_deterministic(True)
    if seed is not None:
        torch.manual_seed(seed)
    try:
        yield
    finally:
        _set_deterministic(old_det)
        torch.set_num_threads(old_threads)


def class_weights(labels: np.ndarray, n_classes: int, cap: float = 10.0) -> torch.Tensor:
    """Inverse-frequency weights n / (k * count) normalised to mean 1 over present classes, capped at ``cap``
    (a class seen a handful of times must not dominate the loss); absent classes get weight 0."""
    counts = np.bincount(labels, minlength=n_classes).astype(float)
    present = counts > 0
    w = np.zeros(n_classes)
    w[present] = len(labels) / (present.sum() * counts[present])
    w = np.minimum(w, cap)
    w[present] /= w[present].mean()
    return torch.tensor(w, dtype=torch.float32)


def fit(net: nn.Module, loss_fn: Callable[..., torch.Tensor], tensors: Sequence[torch.Tensor], *, epochs: int,
        batch_size: int, lr: float, weight_decay: float, seed: int, progress: Progress | None = None) -> list[float]:
    """Minibatch Adam over ``tensors`` (first dimension = rows) for ``epochs``; the batch order comes from a
    generator seeded with ``seed``. ``loss_fn(net, *batch)`` returns the loss. Returns the mean loss per epoch."""
    n = len(tensors[0])
    if n == 0:
        raise ValueError("no training rows")
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
    history = []
    net.train()
    for epoch in range(epochs):
        order = torch.randperm(n, generator=gen)
        total = 0.0
        for lo in range(0, n, batch_size):
            idx = order[lo:lo + batch_size]
            loss = loss_fn(net, *(t[idx] for t in tensors))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), GRAD_CLIP)
            opt.step()
            total += float(loss.detach()) * len(idx)
        history.append(total / n)
        if progress is not None:
            progress(epoch + 1, epochs, history[-1])
    net.eval()
    return history


def state_arrays(net: nn.Module) -> dict[str, np.ndarray]:
    """A module's parameters and buffers as float64 numpy arrays (for the numpy inference kernels)."""
    return {k: v.detach().cpu().numpy().astype(np.float64) for k, v in net.state_dict().items()}
