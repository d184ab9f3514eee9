"""Where and in what precision a model runs: the device, bf16 autocast, the memory layout."""
from __future__ import annotations

import contextlib

import torch
import torch.nn as nn

from mnistlab.errors import ConfigError


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda: no CUDA device is available here; use --device cpu or auto")
    return torch.device(name)


def autocast(device: torch.device, precision: str):
    """bf16 autocast when asked for (CPU with AVX-512 BF16/AMX, or GPU); fp32 otherwise."""
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def memory_format(model: nn.Module, device: torch.device) -> torch.memory_format:
    """channels_last for conv nets on CPU: oneDNN's fast layout (the CNN's step runs ~1.4x faster)."""
    has_conv = any(isinstance(m, nn.Conv2d) for m in model.modules())
    return torch.channels_last if has_conv and device.type == "cpu" else torch.contiguous_format
