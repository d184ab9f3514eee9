"""Will a run fit in memory? Estimated from one sample's pass (a large model's on the meta device) before training.

The kernel's OOM killer gives no error to catch: a run the machine cannot hold is refused in one line instead.
The estimate is deliberately generous: parameters with their gradients, Adam's two moments and the best epoch's
weights kept aside; every layer's output at the batch size, kept for backward with its gradient and a temporary;
and the dataset as it lies in memory.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch

from mnistlab.config import RunConfig, class_counts, flag_of
from mnistlab.errors import ConfigError
from mnistlab.models.registry import get_spec
from mnistlab.models.spec import ModelSpec, input_shape
from mnistlab.runs.job import Job, RunPlan

FLOAT = 4               # bytes of a float32
TRAINING_COPIES = 5     # weights, gradients, Adam's exp_avg and exp_avg_sq, the best epoch's weights
ACTIVATION_COPIES = 3   # a layer's output kept for backward, its gradient, one temporary
EVAL_BATCH = 256        # the batch evaluate() runs the test set in (no gradients)
PIXELS = 28 * 28
RESIDENT_BYTES = 70_000 * PIXELS + 2 * 10_000 * PIXELS * FLOAT  # uint8 MNIST, the test set raw + normalized
SIZE_FIELDS = ("batch_size", "samples_per_class")  # besides the model's own settings
GIB = 2**30
MAX_POOL = 60_000       # the most training images a dataset has, hence the largest unlabelled pool


REAL_PASS_PARAMS = 16_000_000  # up to 64 MB of weights a batch-of-one pass on the CPU costs less than meta's


_shapes: dict[tuple, tuple[int, int] | None] = {}  # by the model's version and the config: one pass each


def _shape_numbers(spec: ModelSpec, cfg: RunConfig) -> tuple[int, int] | None:
    """(parameters, layer-output elements per sample) of the model `cfg` describes, from one pass of one sample.

    The model is built on the meta device (nothing allocated) to count its parameters. A small one is then built
    and run on the CPU: torch's meta kernels for common ops (relu) import ~800 modules on first use, ~2 s a
    process. A large one runs on meta, so that sizing it allocates nothing."""
    sizes: list[int] = []

    def count(module, args, out):
        if isinstance(out, torch.Tensor):
            sizes.append(out.numel())

    try:
        with torch.device("meta"):
            model = spec.construct(cfg)
        params = sum(p.numel() for p in model.parameters())
        device = "cpu" if params <= REAL_PASS_PARAMS else "meta"
        if device == "cpu":
            with torch.random.fork_rng(devices=[]):  # built again for real; the caller's random stream is untouched
                model = spec.construct(cfg)
        leaves = [m for m in model.modules() if next(m.children(), None) is None]
        hooks = [m.register_forward_hook(count) for m in leaves]
        try:
            with torch.no_grad():
                model.eval()(torch.zeros(1, *input_shape(cfg), device=device))
        finally:
            for hook in hooks:
                hook.remove()
    except KeyboardInterrupt:
        raise
    except BaseException:  # noqa: BLE001 - a model that cannot run (or exits) here is not refused: training says why
        return None
    return params, sum(sizes)


def model_numbers(cfg: RunConfig, spec: ModelSpec | None = None) -> tuple[int, int] | None:
    """(parameters, activation elements per sample), or None when the model cannot be sized without running it."""
    spec = spec or get_spec(cfg.model)
    # The grid's own axes do not change the model's shape: one pass per model and size, not per run.
    shaped = cfg.with_(seed=0, samples_per_class=1, eval_noise=(), eval_shift=())
    key = (spec.name, spec.source_sha256, shaped)
    if key not in _shapes:
        _shapes[key] = _shape_numbers(spec, shaped)
    return _shapes[key]


def training_bytes(cfg: RunConfig, plan: RunPlan | None = None) -> int | None:
    """The model's share: parameters x TRAINING_COPIES and its activations at the batch size (or at evaluation's).
    plan: the run's resolved plan (by default, the plan of `cfg` as given)."""
    plan = plan or RunPlan.of(cfg)
    numbers = model_numbers(cfg, plan.model)
    if numbers is None:
        return None
    params, per_sample = numbers
    if plan.method is not None:  # a semi step: the labelled batch and a strong view kept for backward, a weak not
        kept, passing = round(cfg.batch_size * (1 + plan.uratio)), round(cfg.batch_size * plan.uratio)
        return FLOAT * (params * (TRAINING_COPIES + 1)  # + the EMA copy
                        + per_sample * max(ACTIVATION_COPIES * kept + passing, EVAL_BATCH))
    batch = min(cfg.batch_size, sum(class_counts(cfg)))  # a batch never holds more than the training pool
    return FLOAT * (params * TRAINING_COPIES + per_sample * max(ACTIVATION_COPIES * batch, EVAL_BATCH))


def data_bytes(cfg: RunConfig) -> int:
    """MNIST and the test set resident in memory, plus this run's train/val pool as floats (and a normalized copy)."""
    unlabelled = MAX_POOL if cfg.unlabeled == "all" else int(cfg.unlabeled)  # uint8 images, gathered once
    return RESIDENT_BYTES + 2 * sum(class_counts(cfg)) * PIXELS * FLOAT + unlabelled * PIXELS


def estimate_bytes(cfg: RunConfig, plan: RunPlan | None = None) -> int | None:
    """What one run of `cfg` needs at its peak, in bytes (None when the model cannot be sized on meta)."""
    model = training_bytes(cfg, plan)
    return None if model is None else model + data_bytes(cfg)


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_room() -> int | None:
    """Room left under this process's cgroup (v2) memory limit: a container may hold less than the machine."""
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit == "max":
            return None
        return int(limit) - int(Path("/sys/fs/cgroup/memory.current").read_text())
    except (OSError, ValueError):
        return None


def available_bytes(device=None) -> int | None:
    """Memory a new run may use: free memory on a CUDA device, else the machine's available memory (and the
    container's limit); None when it cannot be read (then nothing is refused)."""
    if device is not None and torch.device(device).type == "cuda":
        try:
            return torch.cuda.mem_get_info(torch.device(device))[0]
        except (RuntimeError, AssertionError):
            return None
    try:
        import psutil

        found = [psutil.virtual_memory().available]
    except ImportError:
        found = [_meminfo_available()]
    if os.name == "posix":
        found.append(_cgroup_room())
    known = [v for v in found if v is not None]
    return min(known) if known else None


def _named(job: Job, need: int) -> str:
    """The flags that make this run large: those whose default would shrink it by a tenth or more."""
    cfg, defaults = job.config, RunConfig()
    big = []
    for name, value in cfg.model_args:
        smaller = estimate_bytes(cfg.with_(model_args=tuple(a for a in cfg.model_args if a[0] != name)), job.plan)
        if smaller is not None and smaller <= 0.9 * need:
            big.append(f"{flag_of(name)} {value}")
    for name in SIZE_FIELDS:
        default = getattr(defaults, name)
        if getattr(cfg, name) != default:
            smaller = estimate_bytes(cfg.with_(**{name: default}), job.plan)
            if smaller is not None and smaller <= 0.9 * need:
                big.append(f"{flag_of(name)} {getattr(cfg, name)}")
    return " ".join(big) or f"--models {cfg.model}"


def check_fits(jobs: Sequence[Job], available: int | None = None, device=None) -> None:
    """ConfigError when the largest of these runs (they run one at a time) needs more memory than is available."""
    sized = [(need, job) for job in jobs if (need := estimate_bytes(job.config, job.plan)) is not None]
    if not sized:
        return
    if available is None:
        available = available_bytes(device)
    need, worst = max(sized, key=lambda pair: pair[0])
    if available is None or need <= available:
        return
    raise ConfigError(f"{_named(worst, need)}: a run needs ~{need / GIB:.1f} GiB, this machine has "
                      f"~{available / GIB:.1f} GiB available; use smaller widths or --batch-size")

