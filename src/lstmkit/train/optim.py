"""The engine's optimiser: AdamW, kept clear of subnormal numbers.

An embedding row whose word stops appearing gets exact-zero gradients, so its AdamW moments decay by
``beta1`` (``exp_avg``) and ``beta2`` (``exp_avg_sq``) every step, down through the subnormal range
(below ``torch.finfo(float32).tiny``, about 1.2e-38), where x86 arithmetic is many times slower: a word-level
job's optimizer step ran ~30x slower once thousands of rows had gone quiet (issue 22). Flushing the
processor's denormals (``torch.set_flush_denormal``) only covers the calling thread, not the intra-op pool,
and would change the model's arithmetic too, so the moments are flushed instead: every few steps, the
values below :data:`TINY_MOMENT` are set to zero. That is far below anything that moves a weight (an
``exp_avg`` of 1e-30 moves it by ``lr * 1e-30 / eps``, and ``sqrt(1e-30)`` is 1e-7 of AdamW's ``eps``), and
the interval is short enough that no value can decay from :data:`TINY_MOMENT` to a subnormal in between.
The flush is keyed to the optimiser's own step count, so a resumed run flushes at the same steps.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["make_optimizer", "flush_tiny_moments_", "flush_interval", "TINY_MOMENT"]

#: moments below this magnitude are set to zero (far above float32's subnormals, far below any effect)
TINY_MOMENT = 1e-30


def flush_interval(betas: tuple[float, float], threshold: float = TINY_MOMENT,
                   dtype: torch.dtype = torch.float32) -> int:
    """Steps between flushes: half the steps a value just above ``threshold`` needs to decay to a
    subnormal at the faster of the two decay rates (``betas`` of AdamW).

    Example::

        >>> from lstmkit.train.optim import flush_interval
        >>> flush_interval((0.9, 0.99)), flush_interval((0.5, 0.999))
        (86, 13)
    """
    decays = [b for b in betas if 0 < b < 1]
    if not decays:                                   # beta 0: moments are replaced, never decay; 1: never
        return 1_000_000
    steps = math.log(torch.finfo(dtype).tiny / threshold) / math.log(min(decays))
    return max(1, int(steps) // 2)


@torch.no_grad()
def flush_tiny_moments_(optimizer: torch.optim.Optimizer, threshold: float = TINY_MOMENT) -> int:
    """Set the AdamW moments (``exp_avg``, ``exp_avg_sq``) below ``threshold`` in magnitude to zero, in place;
    return how many were set.

    Example::

        >>> import torch
        >>> from lstmkit.train.optim import flush_tiny_moments_
        >>> p = torch.nn.Parameter(torch.ones(3))
        >>> opt = torch.optim.AdamW([p])
        >>> p.grad = torch.ones(3); opt.step()
        >>> opt.state[p]["exp_avg"][0] = 1e-40
        >>> flush_tiny_moments_(opt), opt.state[p]["exp_avg"].tolist()
        (1, [0.0, 0.10000000149011612, 0.10000000149011612])
    """
    flushed = 0
    for state in optimizer.state.values():
        for name in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
            t = state.get(name)
            if t is None or not t.is_floating_point() or t.device.type != "cpu":   # GPUs: no penalty
                continue
            tiny = t.abs() < threshold
            tiny &= t != 0
            n = int(tiny.sum())
            if n:
                t.masked_fill_(tiny, 0.0)
                flushed += n
    return flushed


def _optimizer_step(optimizer: torch.optim.Optimizer) -> int:
    """The optimiser's own step count (AdamW keeps one per parameter; they agree but for unused ones)."""
    steps = [state["step"] for state in optimizer.state.values() if "step" in state]
    return int(max(float(s) for s in steps)) if steps else 0


def make_optimizer(model: nn.Module, cfg) -> torch.optim.AdamW:
    """AdamW (``cfg.lr``, ``cfg.beta1``, ``cfg.beta2``) with weight decay ``cfg.weight_decay`` on matrices
    (embeddings, weights) and none on vectors (biases, gains), whose moments are flushed of tiny values
    every :func:`flush_interval` steps (a step post-hook; see the module's docs).

    Example::

        >>> import torch
        >>> from lstmkit.train import TrainConfig, make_optimizer
        >>> opt = make_optimizer(torch.nn.Embedding(100, 8), TrainConfig())
        >>> [g["weight_decay"] for g in opt.param_groups]
        [0.1]
    """
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    rest = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": rest, "weight_decay": 0.0}]
    betas = (cfg.beta1, cfg.beta2)
    opt = torch.optim.AdamW([g for g in groups if g["params"]], lr=cfg.lr, betas=betas)
    every = flush_interval(betas)

    def flush(optimizer, args, kwargs) -> None:
        if _optimizer_step(optimizer) % every == 0:
            flush_tiny_moments_(optimizer)

    opt.register_step_post_hook(flush)
    return opt
