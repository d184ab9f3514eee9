"""Each finished run's per-epoch numbers as TensorBoard scalars, from its stored history (so every executor works).

One TensorBoard run per variant, model, budget and seed: DIR/<variant>/<model>_spc<N>_seed<S>/. tensorboard is
an optional extra; `require_tensorboard` names it in one line before any training starts.
"""
from __future__ import annotations

import re
from pathlib import Path

from mnistlab.errors import ConfigError

CURVES = ("train_loss", "train_acc", "val_loss", "val_acc", "mask_rate")


def require_tensorboard() -> None:
    try:
        import tensorboard  # noqa: F401 - torch.utils.tensorboard writes through it
    except ImportError:
        raise ConfigError("--tensorboard needs the tensorboard package: python -m pip install "
                          "'mnistlab[tensorboard]'") from None


def _part(text: str) -> str:
    """A piece of a folder name: the safe characters of `text` (a variant, a user model's spec)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")[:64] or "run"


def write_scalars(logdir: Path, result, variant: str = "base") -> Path:
    """Write one run's history (epochs, or steps for a semi-supervised run) and its test accuracy; returns its
    TensorBoard run folder. `result` is a ModelResult."""
    from torch.utils.tensorboard import SummaryWriter

    from mnistlab.models.registry import file_stem

    cfg = result.run_config
    folder = (Path(logdir) / _part(variant) /
              f"{file_stem(result.model)}_spc{cfg.samples_per_class}_seed{cfg.seed}")
    history = result.history
    x_axis = history.get("step") or history.get("epoch") or []
    with SummaryWriter(log_dir=str(folder)) as writer:
        for name in CURVES:
            for x, value in zip(x_axis, history.get(name) or []):
                if value is not None:
                    writer.add_scalar(name, value, int(x))
        writer.add_scalar("test_acc", result.test_acc, int(x_axis[-1]) if x_axis else 0)
    return folder
