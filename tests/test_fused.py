"""The fused kernels: pool_relu bit-identical to torch, conv_pool_relu equal within rounding; clean fallbacks."""

import pytest
import torch
import torch.nn.functional as F

import kernel_probe
from mnistlab.config import RunConfig
from mnistlab.data.resident import Split
from mnistlab.kernels import fused
from mnistlab.models import build_model
from mnistlab.training.solo import fit

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


def _short_fit():
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(300, 1, 28, 28, generator=g), torch.randint(0, 10, (300,), generator=g)
    cfg = RunConfig(model="cnn", seed=3, epochs=2, batch_size=64)
    model = build_model(cfg)
    fitted = fit(model, Split(x[:240], y[:240], x[240:], y[240:], None), cfg)
    return model.state_dict(), fitted.history


def kernels_off(monkeypatch):
    monkeypatch.setattr(fused, "_lib", None)
    monkeypatch.setattr(fused, "_why_not", "off (test)")


@needs_kernel
def test_training_with_pool_relu_alone_is_bit_identical(monkeypatch):
    """conv1 as torch's conv: then the fused pool_relu changes no bit of a short CNN fit."""
    monkeypatch.setattr(fused, "_conv_applies", lambda x, conv: False)
    with_kernel, _ = _short_fit()
    kernels_off(monkeypatch)
    without, _ = _short_fit()
    assert fused.status() == "off (test)"
    for k in with_kernel:
        assert torch.equal(with_kernel[k], without[k]), k


@needs_kernel
def test_training_with_the_fused_first_layer_stays_within_rounding(monkeypatch):
    """conv1 fused in: another summation order, so not bit for bit, but the same fit up to float noise."""
    with_kernel, history = _short_fit()
    kernels_off(monkeypatch)
    without, history_ref = _short_fit()
    for key in ("train_loss", "val_loss"):
        assert history[key] == pytest.approx(history_ref[key], rel=1e-5)
    for k in with_kernel:
        # Adam moves each weight by up to lr per step whatever the gradient's size, so a near-zero gradient
        # whose sign differs in the last bits moves it ~lr the other way: 8 steps at lr 1e-3 bound it.
        assert torch.allclose(with_kernel[k], without[k], rtol=0, atol=8e-3), k
        assert not torch.allclose(with_kernel[k], without[k], rtol=0, atol=1e-9) or k.endswith("bias"), k


def conv_case(c=16, n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 28, 28, generator=g)
    x[:, :, :6] = 0.0  # a blank band: exact 4-way ties in the conv output, as MNIST's background gives
    conv = torch.nn.Conv2d(1, c, 3, padding=1).to(memory_format=CL)
    with torch.no_grad():
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=g) * 0.5)
        conv.bias.copy_(torch.randn(c, generator=g) * 0.1)
    return x, conv


def conv_forward_backward(fn, x, conv, grad_seed=1):
    conv.zero_grad()
    y = fn(x)
    g = torch.randn(y.shape, generator=torch.Generator().manual_seed(grad_seed)).contiguous(memory_format=CL)
    y.backward(g)
    return y.detach(), conv.weight.grad.clone(), conv.bias.grad.clone()


@needs_kernel
@pytest.mark.parametrize("channels", [16, 32])
def test_fused_first_layer_matches_torch_within_rounding(channels):
    x, conv = conv_case(channels)
    y, gw, gb = conv_forward_backward(lambda t: fused.conv_pool_relu(t, conv), x, conv)
    y_ref, gw_ref, gb_ref = conv_forward_backward(lambda t: native(conv(t)), x, conv)
    assert y.is_contiguous(memory_format=CL)
    assert torch.allclose(y, y_ref, rtol=1e-5, atol=1e-5)
    assert torch.equal(y > 0, y_ref > 0)  # same relu mask: the same windows pass a gradient
    # sums over ~100k products in another order: compare relative to the gradient's size
    assert (gw - gw_ref).norm() / gw_ref.norm() < 1e-5 and (gb - gb_ref).norm() / gb_ref.norm() < 1e-5


@needs_kernel
def test_fused_first_layer_is_deterministic_across_thread_counts():
    x, conv = conv_case()
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = conv_forward_backward(lambda t: fused.conv_pool_relu(t, conv), x, conv)
        torch.set_num_threads(2)
        two = conv_forward_backward(lambda t: fused.conv_pool_relu(t, conv), x, conv)
    finally:
        torch.set_num_threads(threads)
    assert all(torch.equal(a, b) for a, b in zip(one, two))


@needs_kernel
def test_fused_first_layer_path_is_taken():
    x, conv = conv_case()
    assert type(fused.conv_pool_relu(x, conv).grad_fn).__name__ == "_ConvPoolReLUBackward"


@pytest.mark.parametrize("case", ["input_grad", "hook", "channels"])
def test_fused_first_layer_falls_back_where_it_must(case):
    """Saliency needs the input's gradient, Captum hooks need conv's output."""
    x, conv = conv_case(12 if case == "channels" else 16)
    if case == "input_grad":
        x.requires_grad_()
    if case == "hook":
        conv.register_forward_hook(lambda module, inputs, output: None)
    y = fused.conv_pool_relu(x, conv)
    assert "ConvPoolReLU" not in type(y.grad_fn).__name__


@needs_kernel
def test_under_bf16_autocast_the_first_layer_stays_float32_and_trains():
    x, conv = conv_case()
    nxt = torch.nn.Conv2d(16, 8, 3, padding=1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = fused.conv_pool_relu(x, conv)
        z = nxt(y)
    assert y.dtype == torch.float32 and z.dtype == torch.bfloat16
    z.float().sum().backward()
    assert conv.weight.grad is not None and conv.weight.grad.dtype == torch.float32
    assert torch.isfinite(conv.weight.grad).all()


def test_mnistlab_fused_0_turns_it_off(tmp_path):
    code = "from mnistlab.kernels import fused; print(fused.status())"
    out = kernel_probe.run(code, None, {"MNISTLAB_FUSED": "0"}, tmp_path / "out").strip()
    assert out == "off (MNISTLAB_FUSED=0)"


def test_no_compiler_falls_back_with_the_reason(tmp_path):
    code = ("from mnistlab.kernels import fused; import torch; "
            "x = torch.randn(2, 3, 4, 4).contiguous(memory_format=torch.channels_last); "
            "y = fused.pool_relu(x); print(fused.status())")
    env = {"PATH": str(tmp_path), "CC": str(tmp_path / "no-such-cc"), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    out = kernel_probe.run(code, None, env, tmp_path / "out")
    assert out.startswith("unavailable (")


@needs_kernel
def test_disabled_runs_torch_ops_inside_and_restores_after():
    x = awkward((2, 4, 8, 8))
    with fused.disabled():
        assert fused.status().startswith("off")
        assert "PoolReLU" not in type(fused.pool_relu(x.clone().requires_grad_()).grad_fn).__name__
    assert fused.status() == "fused"
    assert type(fused.pool_relu(x.clone().requires_grad_()).grad_fn).__name__ == "_PoolReLUBackward"
