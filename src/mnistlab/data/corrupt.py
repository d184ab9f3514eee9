"""Corruptions and augmentations as batched tensor ops on raw pixels in [0, 1], seeded by a Generator.

Each draw comes from the generator passed in, so noise is fresh every batch and epoch yet identical
for the same seed (the notebook's global NumPy generator repeated itself across DataLoader workers).
"""
from __future__ import annotations

import math

import torch

from mnistlab.data.warp import inverse_map, warp


def salt_and_pepper(x: torch.Tensor, amount: float, generator: torch.Generator) -> torch.Tensor:
    """Set a fraction `amount` of pixels to 0 (pepper) or 1 (salt), half each on average."""
    if amount <= 0:
        return x
    u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    # One uniform draw decides both: u < amount/2 -> pepper, amount/2 <= u < amount -> salt.
    out = torch.where(u < amount, (u >= amount / 2).to(x.dtype), x)
    return out


def _warp(x: torch.Tensor, zoom: torch.Tensor, dx: torch.Tensor, dy: torch.Tensor,
          angle: torch.Tensor | None = None) -> torch.Tensor:
    """Rotate by `angle` radians, zoom by `zoom` and translate by (dx, dy) pixels of the zoomed image, per image,
    black fill (one pixel is 2/W in affine_grid's coordinates)."""
    _, _, h, w = x.shape
    return warp(x, inverse_map(zoom, -dx * 2 / w / zoom, -dy * 2 / h / zoom, angle), affine_grid=True)


def random_affine(x: torch.Tensor, shift: float, scale: float, generator: torch.Generator,
                  rotate: float = 0.0) -> torch.Tensor:
    """Translate each image by up to ±shift pixels per axis, zoom by a factor in [1-scale, 1+scale] and (when
    rotate > 0) rotate by up to ±rotate degrees. Without rotation the draws are those of earlier releases."""
    if shift <= 0 and scale <= 0 and rotate <= 0:
        return x
    n = x.shape[0]
    u = torch.rand(n, 4 if rotate > 0 else 3, generator=generator, device=x.device, dtype=x.dtype) * 2 - 1
    angle = u[:, 3] * math.radians(rotate) if rotate > 0 else None
    return _warp(x, 1 + scale * u[:, 2], shift * u[:, 0], shift * u[:, 1], angle)


def fixed_shift(x: torch.Tensor, magnitude: float, generator: torch.Generator) -> torch.Tensor:
    """Shift every image by exactly `magnitude` pixels in a random direction (a test-time corruption)."""
    if magnitude <= 0:
        return x
    n = x.shape[0]
    angle = torch.rand(n, generator=generator, device=x.device, dtype=x.dtype) * 2 * math.pi
    ones = torch.ones(n, device=x.device, dtype=x.dtype)
    return _warp(x, ones, magnitude * torch.cos(angle), magnitude * torch.sin(angle))


def make_augment(noise: float, shift: float, scale: float, rotate: float = 0.0):
    """The train-time augmentation a config asks for, or None: f(x, generator) -> x."""
    if noise <= 0 and shift <= 0 and scale <= 0 and rotate <= 0:
        return None

    def augment(x, generator):
        x = random_affine(x, shift, scale, generator, rotate)
        return salt_and_pepper(x, noise, generator)

    return augment
