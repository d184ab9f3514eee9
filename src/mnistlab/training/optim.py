"""Adam through torch's functional fused kernel: the one place that calls a private torch API.

Same arithmetic as torch.optim.Adam(fused=True), but constructing torch.optim.Adam imports
torch._dynamo (~0.8 s per process); a whole `mnistlab run` takes ~5 s, so that matters. Works
unchanged on stacked parameters [K, ...] of K models: Adam is elementwise, so each model gets
exactly its own update. On a torch whose functional Adam differs, torch.optim.Adam runs (same maths).
"""
from __future__ import annotations

import functools
import math

import torch

# The functional signature below is the one of the torch release the tests run on; others fall back.
TESTED_TORCH = (2, 13)


def _torch_version() -> tuple[int, int]:
    major, minor = torch.__version__.split("+")[0].split(".")[:2]
    return int(major), int(minor)


class Adam:
    """torch's own fused Adam kernel (torch.optim.adam.adam, fused=True) behind a minimal step()."""

    def __init__(self, params, lr: float, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
        self.params = list(params)
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay
        self.exp_avg = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self.steps = [torch.zeros((), dtype=torch.float32, device=p.device) for p in self.params]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        from torch.optim.adam import adam

        live = [i for i, p in enumerate(self.params) if p.grad is not None]
        if self.weight_decay:  # AdamW's decoupled decay, applied before the Adam update as torch.optim.AdamW does
            torch._foreach_mul_([self.params[i] for i in live], 1 - self.lr * self.weight_decay)

        def pick(xs):
            return [xs[i] for i in live]

        adam(pick(self.params), [self.params[i].grad for i in live], pick(self.exp_avg), pick(self.exp_avg_sq), [],
             pick(self.steps), foreach=False, capturable=False, differentiable=False, fused=True, grad_scale=None,
             found_inf=None, has_complex=False, amsgrad=False, beta1=self.betas[0], beta2=self.betas[1],
             lr=self.lr, weight_decay=0.0, eps=self.eps, maximize=False)

    def keep_rows(self, keep: torch.Tensor, params) -> Adam:
        """The optimizer of a stack that kept only these rows (models), with their moments and steps."""
        kept = Adam(params, lr=self.lr, betas=self.betas, eps=self.eps, weight_decay=self.weight_decay)
        kept.exp_avg = [e[keep].clone() for e in self.exp_avg]
        kept.exp_avg_sq = [e[keep].clone() for e in self.exp_avg_sq]
        kept.steps = self.steps
        return kept


@functools.cache  # asked once per process
def fused_adam_works() -> bool:
    """Whether our fused Adam runs on this torch (a tested release, and a one-step check that its functional Adam
    takes these arguments); the stacked trainer needs it (it keeps rows of the optimizer's state)."""
    if _torch_version() < TESTED_TORCH:
        return False
    try:
        probe = torch.zeros(1, requires_grad=True)
        probe.grad = torch.zeros(1)
        Adam([probe], lr=1e-3).step()
    except (TypeError, RuntimeError):
        return False
    return True


def make_adam(params, lr: float, weight_decay: float = 0.0):
    """Our fused Adam where it works (fused_adam_works), else torch.optim.Adam (AdamW when there is weight decay)."""
    params = list(params)
    if fused_adam_works():
        return Adam(params, lr=lr, weight_decay=weight_decay)
    if weight_decay:
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, foreach=True)
    return torch.optim.Adam(params, lr=lr, foreach=True)


def lr_at(cfg, t: int, horizon: int) -> float:
    """The learning rate at a 1-based epoch or step `t`: constant, or cosine from cfg.lr down towards 0 at
    `horizon` (cfg.epochs for the supervised loops, cfg.steps for the semi-supervised one)."""
    if cfg.schedule == "cosine":
        return cfg.lr * 0.5 * (1 + math.cos(math.pi * (t - 1) / horizon))
    return cfg.lr


def snapshot(model) -> dict:
    """A copy of a model's weights and buffers, detached: what early stopping keeps of its best epoch."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def set_lr(optimizer, lr: float) -> None:
    if isinstance(optimizer, Adam):
        optimizer.lr = lr
    else:
        for group in optimizer.param_groups:
            group["lr"] = lr
