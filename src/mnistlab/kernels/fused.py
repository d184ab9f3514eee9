"""The CNN's memory-bound layers fused on CPU: two small C kernels (pool_relu.c), loaded with ctypes.

- pool_relu(x) = relu(max_pool2d(x, 2, 2)) in one pass each way, bit-identical to torch's ops. torch's
  max-pool writes int64 indices and its backward zero-fills then scatters; with relu that was ~30% of
  the CNN's training step.
- conv_pool_relu(x, conv1): the first layer whole (3x3 conv on the one input channel + pool + relu).
  conv1's 6.4 MB output per batch is never stored; its weight gradient comes from the max positions
  alone. Equal to torch within float rounding (another summation order), not bit for bit.
Together the CNN's step is 1.3-1.4x faster (`benchmarks/bench_step.py`, docs/performance.md).

The C file is compiled once with the system's C compiler into a private cache (~0.3 s, keyed by source,
flags and CPU; build.py says what is trusted there); its OpenMP loops run on torch's own OpenMP runtime.
Used only where it applies (CPU, float32, channels_last, even sizes, outside torch.func transforms; for
conv1 also: no gradient wanted for x, no hooks on conv1); elsewhere, without a compiler, or with
MNISTLAB_FUSED=0, torch's ops run. `status()` says which, and every run records it; `describe()` says more.
"""
from __future__ import annotations

import contextlib
import os
import subprocess
import threading

import torch
import torch.nn.functional as F

from mnistlab.kernels import build

# Inside torch.func transforms (the batched trainer's vmap) tensors are wrapped and a ctypes kernel
# cannot see their data; without this private check (a future torch may move it) the kernel stays off.
_is_wrapped = getattr(getattr(torch._C, "_functorch", None), "is_functorch_wrapped_tensor", None)
_lock = threading.Lock()
_lib = None      # the loaded library, once built
_kernel = None   # what was loaded: path, OpenMP or not, why the cache was not used
_why_not = None  # why the fused kernel is not used, once known


def _library():
    """The compiled kernel, or None (and the reason in status())."""
    global _lib, _kernel, _why_not
    if _lib is not None or _why_not is not None:
        return _lib
    with _lock:
        if _lib is None and _why_not is None:
            if os.environ.get("MNISTLAB_FUSED", "1") == "0":
                _why_not = "off (MNISTLAB_FUSED=0)"
            else:
                try:
                    _kernel = build.load()
                    _lib = _kernel.lib
                except (build.Unavailable, OSError, subprocess.SubprocessError) as e:
                    _why_not = f"unavailable ({' '.join(str(e).split())})"
    return _lib


@contextlib.contextmanager
def disabled():
    """torch's ops for everything inside the block (benchmarks compare against it)."""
    global _lib, _why_not
    saved = _library(), _why_not
    _lib, _why_not = None, "off (fused.disabled())"
    try:
        yield
    finally:
        _lib, _why_not = saved


def status() -> str:
    """'fused' (', no OpenMP', ' (rebuilt privately: why)') or why not: recorded in every run's environment."""
    if _library() is None or _kernel is None:
        return _why_not or "off"
    text = "fused" if _kernel.openmp else "fused, no OpenMP"
    return f"{text} (rebuilt privately: {_kernel.rebuilt_because})" if _kernel.rebuilt_because else text


def describe() -> dict:
    """What this machine uses for the CNN's fused layers, and why."""
    used = _kernel if _library() is not None else None
    return {"status": status(), "library": str(used.path) if used else None, "kernel_dir": str(build.kernel_dir()),
            "compiler": build.compiler(), "openmp": used.openmp if used else None, "cpu_id": build.cpu_digest()}


def _loaded():
    """The library, which the autograd functions below are only called with (callers check _library())."""
    if _lib is None:
        raise RuntimeError("the fused kernels are not loaded")
    return _lib


class _PoolReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        n, c, h, w = x.shape
        out = torch.empty((n, c, h // 2, w // 2), dtype=torch.float32, memory_format=torch.channels_last)
        where = torch.empty((n, c, h // 2, w // 2), dtype=torch.uint8, memory_format=torch.channels_last)
        _loaded().pool_relu_forward(x.data_ptr(), out.data_ptr(), where.data_ptr(), n, h, w, c)
        ctx.save_for_backward(out, where)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        out, where = ctx.saved_tensors
        n, c, ho, wo = out.shape
        grad_out = grad_out.contiguous(memory_format=torch.channels_last)
        grad_in = torch.empty((n, c, 2 * ho, 2 * wo), dtype=torch.float32, memory_format=torch.channels_last)
        _loaded().pool_relu_backward(grad_out.data_ptr(), out.data_ptr(), where.data_ptr(), grad_in.data_ptr(),
                                n, 2 * ho, 2 * wo, c)
        return grad_in


def _applies(x: torch.Tensor) -> bool:
    if _is_wrapped is None or _is_wrapped(x):  # inside vmap/grad (the batched trainer)
        return False
    return (x.device.type == "cpu" and x.dtype == torch.float32 and x.dim() == 4
            and x.shape[2] % 2 == 0 and x.shape[3] % 2 == 0 and x.is_contiguous(memory_format=torch.channels_last))


def pool_relu(x: torch.Tensor) -> torch.Tensor:
    """relu(max_pool2d(x, 2, 2)), fused where it applies; identical values and gradients either way."""
    if _applies(x) and _library() is not None:
        return _PoolReLU.apply(x)
    return F.relu(F.max_pool2d(x, 2, 2), inplace=True)


class _ConvPoolReLU(torch.autograd.Function):
    """relu(max_pool2d(conv2d(x, weight, bias, padding=1), 2, 2)) for one input channel.

    Gradients for weight and bias only (callers fall back to torch's ops when x needs one)."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        n, _, h, w = x.shape
        c = weight.shape[0]
        x = x.contiguous()
        taps = weight.detach().reshape(c, 9).t().contiguous()  # [9, c]: the kernel vectorizes over channels
        bias = bias.detach().contiguous()
        out = torch.empty((n, c, h // 2, w // 2), dtype=torch.float32, memory_format=torch.channels_last)
        where = torch.empty((n, c, h // 2, w // 2), dtype=torch.uint8, memory_format=torch.channels_last)
        _loaded().conv_pool_relu_forward(x.data_ptr(), taps.data_ptr(), bias.data_ptr(), out.data_ptr(),
                                    where.data_ptr(), n, h, w, c)
        ctx.save_for_backward(x, out, where)
        ctx.weight_shape = weight.shape
        return out

    @staticmethod
    def backward(ctx, grad_out):
        x, out, where = ctx.saved_tensors
        n, c, ho, wo = out.shape
        grad_out = grad_out.contiguous(memory_format=torch.channels_last)
        per_sample = torch.empty((n, 10, c), dtype=torch.float32)
        grad = torch.empty((10, c), dtype=torch.float32)  # 9 taps, then the bias
        _loaded().conv_pool_relu_backward(x.data_ptr(), grad_out.data_ptr(), out.data_ptr(), where.data_ptr(),
                                     per_sample.data_ptr(), grad.data_ptr(), n, 2 * ho, 2 * wo, c)
        grad_weight = grad[:9].t().reshape(ctx.weight_shape).contiguous(memory_format=torch.channels_last)
        return None, grad_weight, grad[9].clone()


def _conv_applies(x: torch.Tensor, conv: torch.nn.Conv2d) -> bool:
    return (_applies(x) and x.shape[1] == 1 and x.shape[2] <= 64 and x.shape[3] <= 64 and not x.requires_grad
            and conv.in_channels == 1 and conv.out_channels % 16 == 0 and conv.kernel_size == (3, 3)
            and conv.padding == (1, 1) and conv.stride == (1, 1) and conv.dilation == (1, 1)
            and conv.groups == 1 and conv.padding_mode == "zeros" and conv.bias is not None
            and conv.weight.dtype == torch.float32 and conv.weight.device.type == "cpu"
            # a hook on conv1 expects to see its output: then conv1 runs as itself
            and not (conv._forward_hooks or conv._forward_pre_hooks or conv._backward_hooks
                     or torch.nn.modules.module._global_forward_hooks
                     or torch.nn.modules.module._global_forward_pre_hooks))


def conv_pool_relu(x: torch.Tensor, conv: torch.nn.Conv2d) -> torch.Tensor:
    """relu(max_pool2d(conv(x), 2, 2)) for the CNN's first layer (3x3, padding 1, one input channel).

    On CPU with float32 input one kernel computes it without storing conv's output, ~5x faster than conv
    then pool_relu (forward + backward ~0.3 ms vs ~1.7 ms at batch 128). Equal to torch's conv within
    float rounding (~1e-6 relative), not bit for bit: another summation order. Under bf16 autocast this
    layer stays float32 (it is 3% of the CNN's FLOPs; the next layer casts its input). Elsewhere (x
    needing a gradient, hooks on conv, other shapes, GPU), conv then pool_relu.
    """
    if _conv_applies(x, conv) and _library() is not None:
        return _ConvPoolReLU.apply(x, conv.weight, conv.bias)
    return pool_relu(conv(x))



def cpu_digest() -> str:
    """A short digest of the CPU the kernels are built for (results differ in the last bits across CPUs)."""
    return build.cpu_digest()
