"""The fused relu(max_pool2d) kernel gives exactly torch's values and gradients, and falls back cleanly."""
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from mnistlab import fused
from mnistlab.config import RunConfig
from mnistlab.models import build_model
from mnistlab.train import fit

CL = torch.channels_last
needs_kernel = pytest.mark.skipif(fused.status() != "fused", reason=f"fused kernel not built here: {fused.status()}")


def native(x):
    return F.relu(F.max_pool2d(x, 2, 2))


def awkward(shape, seed=0):
    """Random values plus what trips a pooling kernel: ties (constant rows), exact zeros, NaN, -inf."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g)
    x[:, :, :2] = 0.25       # 4-way ties in the first window row
    x[:, :, 2:4, :2] = 0.0   # ties at exactly zero (relu's edge)
    x[0, 0, 4, 0] = float("nan")
    x[-1, -1, 5, 1] = float("nan")
    x[-1, -1, 4, 1] = float("nan")  # two NaNs in one window: torch keeps the later one
    x[0, -1, 4, 2] = float("-inf")
    return x.contiguous(memory_format=CL)


def forward_backward(fn, x, grad_seed=1):
    x = x.clone().requires_grad_()
    y = fn(x)
    g = torch.randn(y.shape, generator=torch.Generator().manual_seed(grad_seed)).contiguous(memory_format=CL)
    y.backward(g)
    return y.detach(), x.grad


@needs_kernel
@pytest.mark.parametrize("shape", [(128, 16, 28, 28), (64, 32, 14, 14), (3, 5, 6, 8), (1, 1, 6, 6)])
def test_values_and_gradients_equal_torch_bit_for_bit(shape):
    x = awkward(shape)
    y_ref, g_ref = forward_backward(native, x)
    y, g = forward_backward(fused.pool_relu, x)
    assert y.is_contiguous(memory_format=CL) and g.is_contiguous(memory_format=CL)
    assert torch.equal(y.isnan(), y_ref.isnan()) and torch.equal(y.nan_to_num(), y_ref.nan_to_num())
    assert torch.equal(g, g_ref)


@needs_kernel
def test_the_fused_path_is_taken_for_channels_last_float32():
    y = fused.pool_relu(awkward((2, 4, 8, 8)).requires_grad_())
    assert type(y.grad_fn).__name__ == "_PoolReLUBackward"


@pytest.mark.parametrize("case", ["nchw", "odd", "bf16", "vmap"])
def test_everything_else_falls_back_to_torch(case):
    x = awkward((4, 3, 8, 8))
    if case == "nchw":
        x = x.contiguous()
    elif case == "odd":
        x = awkward((4, 3, 9, 7))
    elif case == "bf16":
        x = x.to(torch.bfloat16)
    if case == "vmap":
        out = torch.func.vmap(fused.pool_relu)(torch.stack([x, x]))
        assert torch.equal(out[1].nan_to_num(), native(x).nan_to_num())
        return
    assert torch.equal(fused.pool_relu(x).nan_to_num(), native(x).nan_to_num())


def test_training_is_identical_with_and_without_the_kernel(monkeypatch):
    """A short CNN fit: the same weights bit for bit whether pool_relu runs fused or as torch's ops."""
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(300, 1, 28, 28, generator=g), torch.randint(0, 10, (300,), generator=g)

    def train():
        model = build_model(RunConfig(model="cnn", seed=3))
        fit(model, x[:240], y[:240], x[240:], y[240:], epochs=2, patience=5, min_delta=0.0, batch_size=64,
            lr=1e-3, seed=3)
        return model.state_dict()

    with_kernel = train()
    monkeypatch.setattr(fused, "_lib", None)
    monkeypatch.setattr(fused, "_why_not", "off (test)")
    without = train()
    assert fused.status() == "off (test)"
    for k in with_kernel:
        assert torch.equal(with_kernel[k], without[k]), k


def test_mnistlab_fused_0_turns_it_off():
    code = "from mnistlab import fused; print(fused.status())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**__import__("os").environ, "MNISTLAB_FUSED": "0"}).stdout.strip()
    assert out == "off (MNISTLAB_FUSED=0)"


def test_no_compiler_falls_back_with_the_reason(tmp_path):
    code = ("from mnistlab import fused; import torch; "
            "x = torch.randn(2, 3, 4, 4).contiguous(memory_format=torch.channels_last); "
            "y = fused.pool_relu(x); print(fused.status())")
    env = {**__import__("os").environ, "PATH": str(tmp_path), "CC": str(tmp_path / "no-such-cc"),
           "XDG_CACHE_HOME": str(tmp_path / "cache")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert out.startswith("unavailable (")
