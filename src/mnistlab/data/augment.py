"""The two views semi-supervised methods train on, batched on resident tensors of raw pixels in [0, 1].

weak: a small random translation, the view a model's confident prediction is taken from;
strong: a random affine map (rotation, shear, zoom, translation) plus cutout, the view that must agree with it.
Every draw comes from the generator passed in (same seed, same views). One grid_sample call per batch warps all
images at once; cutout is a broadcast mask, no per-image loop.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def affine(x: torch.Tensor, generator: torch.Generator, *, shift: float, rotate: float = 0.0, shear: float = 0.0,
           scale: float = 0.0) -> torch.Tensor:
    """Each image rotated by up to ±rotate degrees, sheared by up to ±shear, zoomed by [1-scale, 1+scale] and
    translated by up to ±shift pixels per axis; black fill."""
    n, _, h, w = x.shape
    u = torch.rand(n, 5, generator=generator, device=x.device, dtype=x.dtype) * 2 - 1
    angle, sh, zoom = u[:, 0] * math.radians(rotate), u[:, 1] * shear, 1 + scale * u[:, 2]
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.zeros(n, 2, 3, device=x.device, dtype=x.dtype)
    # The inverse map (output -> input coordinates): rotation by -angle, shear along x, zoom by 1/zoom.
    theta[:, 0, 0], theta[:, 0, 1] = cos / zoom, (sin + sh * cos) / zoom
    theta[:, 1, 0], theta[:, 1, 1] = -sin / zoom, (cos - sh * sin) / zoom
    theta[:, 0, 2] = -shift * u[:, 3] * 2 / w  # one pixel is 2/W in affine_grid's [-1, 1] coordinates
    theta[:, 1, 2] = -shift * u[:, 4] * 2 / h
    return F.grid_sample(x, sampling_grid(theta, h, w), mode="bilinear", padding_mode="zeros", align_corners=False)


def sampling_grid(theta: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """F.affine_grid(theta, (n, 1, h, w), align_corners=False), written out as six broadcast multiply-adds: the
    same coordinates within float rounding (1e-6), about 5x cheaper on CPU, where affine_grid's batched 3x2 matmul
    cost more than the sampling itself (1.9 vs 0.36 ms for 384 images, benchmarks/bench_semi.py)."""
    xs = ((torch.arange(w, device=theta.device, dtype=theta.dtype) * 2 + 1) / w - 1).view(1, 1, w)
    ys = ((torch.arange(h, device=theta.device, dtype=theta.dtype) * 2 + 1) / h - 1).view(1, h, 1)
    t = theta.reshape(-1, 6, 1, 1)
    return torch.stack((t[:, 0] * xs + t[:, 1] * ys + t[:, 2], t[:, 3] * xs + t[:, 4] * ys + t[:, 5]), dim=-1)


def cutout(x: torch.Tensor, size: int, generator: torch.Generator, fill: float = 0.5) -> torch.Tensor:
    """One size x size square per image, at a random centre (it may hang over the edge), set to `fill`."""
    if size <= 0:
        return x
    n, _, h, w = x.shape
    cy = torch.randint(0, h, (n, 1, 1), generator=generator, device=x.device)
    cx = torch.randint(0, w, (n, 1, 1), generator=generator, device=x.device)
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    half = size // 2
    inside = ((rows - cy).abs() <= half) & ((cols - cx).abs() <= half)
    return torch.where(inside.unsqueeze(1), torch.full_like(x, fill), x)


def weak_view(x: torch.Tensor, generator: torch.Generator, shift: float = 2.0) -> torch.Tensor:
    """FixMatch's weak view for digits: a translation only (a flip would change a digit's meaning)."""
    return affine(x, generator, shift=shift)


def strong_view(x: torch.Tensor, generator: torch.Generator, *, rotate: float = 30.0, shear: float = 0.3,
                scale: float = 0.2, shift: float = 4.0, cutout_size: int = 12) -> torch.Tensor:
    """FixMatch's strong view for digits: a large random affine map, then cutout."""
    return cutout(affine(x, generator, shift=shift, rotate=rotate, shear=shear, scale=scale), cutout_size, generator)
