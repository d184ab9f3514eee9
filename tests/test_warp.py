"""The one affine warp: its cheap grid is affine_grid's, and one inverse map serves every kind of caller."""
import math

import pytest
import torch

from mnistlab.data.warp import inverse_map, sampling_grid, warp


@pytest.mark.parametrize("h, w", [(28, 28), (20, 32)])
def test_the_sampling_grid_is_affine_grids(h, w):
    theta = torch.randn(64, 2, 3, generator=torch.Generator().manual_seed(h))
    expected = torch.nn.functional.affine_grid(theta, [64, 1, h, w], align_corners=False)
    assert torch.allclose(sampling_grid(theta, h, w), expected, atol=2e-6, rtol=0)


def test_one_map_without_a_part_is_the_map_with_that_part_at_zero():
    """The recipe's map (no shear; no rotation unless asked) is the semi views' map at zero shear and angle, bit
    for bit: one builder serves both without moving a stored number."""
    g = torch.Generator().manual_seed(0)
    zoom, tx, ty = 1 + 0.2 * torch.rand(8, generator=g), torch.rand(8, generator=g), torch.rand(8, generator=g)
    angle = torch.rand(8, generator=g) * math.pi
    zeros = torch.zeros(8)
    assert torch.equal(inverse_map(zoom, tx, ty, angle), inverse_map(zoom, tx, ty, angle, zeros))
    assert torch.equal(inverse_map(zoom, tx, ty), inverse_map(zoom, tx, ty, zeros, zeros).abs())  # -0.0 is 0.0
    x = torch.rand(8, 1, 28, 28, generator=g)
    same = warp(x, inverse_map(torch.ones(8), zeros, zeros))
    assert torch.allclose(same, x, atol=1e-5) and torch.allclose(warp(x, inverse_map(torch.ones(8), zeros, zeros),
                                                                     affine_grid=True), x, atol=1e-5)
