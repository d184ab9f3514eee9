"""What a job produces: a typed ModelResult inside an Outcome (status, message, environment)."""
from __future__ import annotations

import platform
import sys
from dataclasses import asdict, dataclass, field, fields
from functools import cached_property
from typing import Any

from mnistlab.config import RunConfig
from mnistlab.runs.job import Job


@dataclass
class ModelResult:
    """Everything measured for one model's run (JSON-ready)."""

    model: str
    key: str
    config: dict
    status: str                      # done | diverged
    message: str
    params: int
    history: dict
    best_epoch: int
    epochs_run: int
    best_val_loss: float | None      # the validation numbers are None for a run without validation
    final_val_acc: float | None      # the notebook's column: val acc at the last epoch run
    best_val_acc: float | None
    gap_at_best: float | None        # train acc - val acc at the best epoch
    test_loss: float
    test_acc: float
    balanced_acc: float
    macro_f1: float
    confusion: list
    report: dict
    report_text: str
    train_counts: list
    robustness: dict = field(default_factory=dict)
    train_seconds: float = 0.0
    eval_seconds: float = 0.0
    label: str = ""                  # the model's display label (registry, or a user model's own)
    last_test_acc: float | None = None  # test accuracy of the last epoch's weights (early stopping's cost)
    calibration: dict = field(default_factory=dict)  # test logits (float16, base64) and the validation temperature
    method_label: str = ""           # a semi-supervised run's method, for display (never resolved again)

    @cached_property
    def run_config(self) -> RunConfig:
        """The stored config, typed: a field the config predates reads as its default, as that run used it."""
        return RunConfig.from_dict(self.config)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelResult:
        """A result read back from results.json or the store (older files lack the newer fields)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


@dataclass
class Outcome:
    """A job's end: done / diverged (with a result) or failed (with the reason)."""

    job: Job
    status: str
    result: ModelResult | None
    message: str
    environment: dict
    model: Any = None  # the trained nn.Module, from executors that run in this process


def environment(device, node: str = "local") -> dict:
    """Library versions, the device, and what decides the last bits of a result: recorded beside every result,
    with the machine it ran on (`node`: Ray's node id, or 'local'; not part of the identity)."""
    from importlib.metadata import version

    import numpy as np
    import torch

    from mnistlab.kernels import fused
    from mnistlab.version import __version__, code_identity

    env = {"mnistlab": __version__, "code": code_identity(), "python": sys.version.split()[0],
           "torch": torch.__version__, "numpy": np.__version__, "scikit-learn": version("scikit-learn"),
           "platform": platform.platform(), "device": str(device), "threads": torch.get_num_threads(),
           "cpu": fused.cpu_digest(),
           # the CPU kernels of mnistlab.kernels: 'fused', or why torch's ops ran instead
           "fused_kernels": fused.status() if device.type == "cpu" else f"not used on {device.type}"}
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
    env["node"] = node
    return env


IDENTITY_FIELDS = ("code", "fused_kernels", "threads", "cpu", "device")


def identity(env: dict) -> dict:
    """The part of an environment that can change a result's numbers: equal identities, equal numbers."""
    return {k: env.get(k) for k in IDENTITY_FIELDS}


# What a node must share with the driver for its results to join the driver's store: the code, torch, and
# whether the fused kernels ran (each changes the numbers). The CPU may differ: the store then holds two
# identities and its summary says so, as for a resume on another machine.
NODE_MUST_MATCH = ("code", "torch", "fused_kernels")


def node_mismatch(expected: dict, env: dict) -> str | None:
    """Why a node's environment cannot join a store whose driver expects `expected`, else None."""
    for name in NODE_MUST_MATCH:
        if name in expected and env.get(name) != expected[name]:
            return f"its {name} {env.get(name)} is not the driver's {expected[name]}"
    return None


class RunResults(list):
    """The ModelResults of one `run`: a list, shown as a readable table in Jupyter."""

    COLUMNS = ("label", "params", "epochs_run", "best_epoch", "best_val_loss", "final_val_acc", "test_acc", "status")

    def _repr_html_(self) -> str:
        import html

        head = "".join(f"<th>{c}</th>" for c in self.COLUMNS)
        rows = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(getattr(r, c)))}</td>" for c in self.COLUMNS)
                       + "</tr>" for r in self)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _cell(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else f"{value:,}" if isinstance(value, int) else str(value)
