"""Affine warps of image batches, the one owner of the map and its sampling: the recipe's shifts, zooms and
rotations (data/corrupt.py), the semi-supervised views (data/augment.py) and the selection rules' deskewing
(selection/embedding.py) each build a per-image inverse map here and sample it here; bilinear, black fill.

Two grids on purpose: the recipe samples F.affine_grid's coordinates, the grid its stored results were trained
with; the others sample `sampling_grid`, the same coordinates within float rounding and ~5x cheaper on the CPU.
Changing the recipe's grid would move its numbers in their last bits: a new code identity, so it stays.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def inverse_map(zoom: torch.Tensor, tx: torch.Tensor, ty: torch.Tensor, angle: torch.Tensor | None = None,
                shear: torch.Tensor | None = None) -> torch.Tensor:
    """[N, 2, 3] output -> input maps in affine_grid's [-1, 1] coordinates: rotation by -angle, shear along x,
    zoom by 1/zoom, then the translation (tx, ty) as given (a caller says in which pixels it counts)."""
    theta = torch.zeros(zoom.shape[0], 2, 3, device=zoom.device, dtype=zoom.dtype)
    if angle is None:
        theta[:, 0, 0] = theta[:, 1, 1] = 1 / zoom
    else:
        cos, sin = torch.cos(angle), torch.sin(angle)
        row0, row1 = (sin, cos) if shear is None else (sin + shear * cos, cos - shear * sin)
        theta[:, 0, 0], theta[:, 0, 1] = cos / zoom, row0 / zoom
        theta[:, 1, 0], theta[:, 1, 1] = -sin / zoom, row1 / zoom
    theta[:, 0, 2], theta[:, 1, 2] = tx, ty
    return theta


def sampling_grid(theta: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """F.affine_grid(theta, (n, 1, h, w), align_corners=False), written out as six broadcast multiply-adds: the
    same coordinates within float rounding (1e-6), about 5x cheaper on CPU, where affine_grid's batched 3x2 matmul
    cost more than the sampling itself (1.9 vs 0.36 ms for 384 images, benchmarks/bench_semi.py)."""
    xs = ((torch.arange(w, device=theta.device, dtype=theta.dtype) * 2 + 1) / w - 1).view(1, 1, w)
    ys = ((torch.arange(h, device=theta.device, dtype=theta.dtype) * 2 + 1) / h - 1).view(1, h, 1)
    t = theta.reshape(-1, 6, 1, 1)
    return torch.stack((t[:, 0] * xs + t[:, 1] * ys + t[:, 2], t[:, 3] * xs + t[:, 4] * ys + t[:, 5]), dim=-1)


def warp(x: torch.Tensor, theta: torch.Tensor, affine_grid: bool = False) -> torch.Tensor:
    """x [N, C, H, W] sampled at theta's inverse maps; affine_grid: F.affine_grid's coordinates (the recipe's)."""
    _, _, h, w = x.shape
    grid = F.affine_grid(theta, list(x.shape), align_corners=False) if affine_grid else sampling_grid(theta, h, w)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
