"""The two views semi-supervised methods train on, batched on resident tensors of raw pixels in [0, 1].

weak: a small random translation, the view a model's confident prediction is taken from;
strong: a random affine map (rotation, shear, zoom, translation) plus cutout, the view that must agree with it.
Every draw comes from the generator passed in (same seed, same views). One warp (data/warp.py) per batch moves all
images at once; cutout is a broadcast mask, no per-image loop.
"""
from __future__ import annotations

import math

import torch

from mnistlab.data.warp import inverse_map, warp


def affine(x: torch.Tensor, generator: torch.Generator, *, shift: float, rotate: float = 0.0, shear: float = 0.0,
           scale: float = 0.0) -> torch.Tensor:
    """Each image rotated by up to ±rotate degrees, sheared by up to ±shear, zoomed by [1-scale, 1+scale] and
    translated by up to ±shift pixels of the original image per axis; black fill."""
    n, _, h, w = x.shape
    u = torch.rand(n, 5, generator=generator, device=x.device, dtype=x.dtype) * 2 - 1
    angle, sh, zoom = u[:, 0] * math.radians(rotate), u[:, 1] * shear, 1 + scale * u[:, 2]
    # one pixel is 2/W in affine_grid's [-1, 1] coordinates
    return warp(x, inverse_map(zoom, -shift * u[:, 3] * 2 / w, -shift * u[:, 4] * 2 / h, angle, sh))


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
