"""Run configuration as plain values, its checks, and its hash (the key a run is stored under)."""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, fields, replace

from mnistlab.errors import ConfigError

MODELS = ("mlp", "cnn")
PRECISIONS = ("fp32", "bf16")
DEVICES = ("auto", "cpu", "cuda")
IMBALANCE_SCHEMES = ("reduce", "longtail")
REMEDIES = ("none", "weighted", "oversample")
SMALLEST_CLASS = 5421  # digit 5 in MNIST's 60,000 training images



@dataclass(frozen=True)
class RunConfig:
    """Everything one model's run depends on. Defaults are the notebook's."""

    model: str = "mlp"
    samples_per_class: int = 300
    val_split: float = 0.2
    epochs: int = 30
    patience: int = 5
    min_delta: float = 0.0
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 0
    mlp_hidden: int = 256
    cnn_c1: int = 16
    cnn_c2: int = 32
    cnn_fc: int = 128
    precision: str = "fp32"
    # Corruptions and augmentation (train-time, applied on the fly to raw pixels).
    noise: float = 0.0          # salt-and-pepper: fraction of pixels set to 0 or 1
    shift: float = 0.0          # random translation, up to this many pixels each way
    scale: float = 0.0          # random zoom in [1 - scale, 1 + scale]
    imbalance: str = ""         # "" | "reduce:3,5:0.1" | "longtail:0.01"
    remedy: str = "none"        # imbalance remedy: none | weighted (loss) | oversample
    # Test-time corruption levels for robustness curves (the clean test is always measured).
    eval_noise: tuple = ()
    eval_shift: tuple = ()

    def to_dict(self) -> dict:
        d = asdict(self)
        d["eval_noise"], d["eval_shift"] = list(self.eval_noise), list(self.eval_shift)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "RunConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"unknown config keys {sorted(unknown)}; allowed: {sorted(known)}")
        d = dict(d)
        for k in ("eval_noise", "eval_shift"):
            if k in d:
                d[k] = tuple(float(v) for v in d[k])
        return cls(**d)

    def key(self, data_checksums: dict | None = None) -> str:
        """Hash of the resolved config (and the data it reads): equal keys, equal experiments."""
        payload = {"config": self.to_dict(), "data": data_checksums or {}}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]

    def with_(self, **changes) -> "RunConfig":
        return replace(self, **changes)


def parse_imbalance(spec: str) -> tuple[str, list[int], float]:
    """'reduce:3,5:0.1' -> ('reduce', [3, 5], 0.1); 'longtail:0.01' -> ('longtail', [], 0.01)."""
    parts = spec.split(":")
    scheme = parts[0]
    if scheme not in IMBALANCE_SCHEMES:
        raise ConfigError(f"--imbalance {spec!r}: unknown scheme {scheme!r}; use reduce:CLASSES:RATIO "
                          "(e.g. reduce:3,5:0.1) or longtail:RATIO (e.g. longtail:0.01)")
    try:
        if scheme == "reduce":
            if len(parts) != 3:
                raise ValueError
            classes, ratio = [int(c) for c in parts[1].split(",")], float(parts[2])
        else:
            if len(parts) != 2:
                raise ValueError
            classes, ratio = [], float(parts[1])
    except ValueError:
        raise ConfigError(f"--imbalance {spec!r}: malformed; use reduce:3,5:0.1 or longtail:0.01") from None
    bad = [c for c in classes if not 0 <= c <= 9]
    if bad:
        raise ConfigError(f"--imbalance {spec!r}: class {bad[0]} is outside 0-9")
    if not (0 < ratio <= 1) or math.isnan(ratio):
        raise ConfigError(f"--imbalance {spec!r}: ratio {ratio} must be in (0, 1]")
    return scheme, classes, ratio


def class_counts(cfg: RunConfig) -> list[int]:
    """Training-pool examples per class (before the val split) under the imbalance scheme."""
    n = cfg.samples_per_class
    if not cfg.imbalance:
        return [n] * 10
    scheme, classes, ratio = parse_imbalance(cfg.imbalance)
    if scheme == "reduce":
        return [max(1, round(n * ratio)) if c in classes else n for c in range(10)]
    return [max(1, round(n * ratio ** (c / 9))) for c in range(10)]  # exponential long tail, 0 → 9


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def _finite(x: float) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def validate(cfg: RunConfig) -> RunConfig:
    """Raise ConfigError naming the first bad value; return the config unchanged when all is well."""
    _check(cfg.model in MODELS, f"--models {cfg.model!r}: unknown model; choose from {', '.join(MODELS)}")
    _check(isinstance(cfg.samples_per_class, int) and 1 <= cfg.samples_per_class <= SMALLEST_CLASS,
           f"--samples-per-class {cfg.samples_per_class}: must be an integer from 1 to {SMALLEST_CLASS} "
           "(the smallest class, digit 5, has 5,421 training images)")
    _check(_finite(cfg.val_split) and 0 < cfg.val_split < 1,
           f"--val-split {cfg.val_split}: must be a fraction strictly between 0 and 1")
    _check(isinstance(cfg.epochs, int) and cfg.epochs >= 1, f"--epochs {cfg.epochs}: must be an integer >= 1")
    _check(isinstance(cfg.patience, int) and cfg.patience >= 1,
           f"--patience {cfg.patience}: must be an integer >= 1")
    _check(_finite(cfg.min_delta) and cfg.min_delta >= 0, f"--min-delta {cfg.min_delta}: must be a finite number >= 0")
    _check(isinstance(cfg.batch_size, int) and cfg.batch_size >= 1,
           f"--batch-size {cfg.batch_size}: must be an integer >= 1")
    _check(_finite(cfg.lr) and cfg.lr > 0, f"--lr {cfg.lr}: must be a finite number > 0")
    _check(isinstance(cfg.seed, int) and 0 <= cfg.seed < 2**32, f"--seed {cfg.seed}: must be an integer in [0, 2^32)")
    for name in ("mlp_hidden", "cnn_c1", "cnn_c2", "cnn_fc"):
        value = getattr(cfg, name)
        _check(isinstance(value, int) and 1 <= value <= 65536,
               f"--{name.replace('_', '-')} {value}: must be an integer from 1 to 65536")
    _check(cfg.precision in PRECISIONS, f"--precision {cfg.precision!r}: choose from {', '.join(PRECISIONS)}")
    _check(_finite(cfg.noise) and 0 <= cfg.noise <= 1, f"--noise {cfg.noise}: must be a fraction in [0, 1]")
    _check(_finite(cfg.shift) and 0 <= cfg.shift <= 14, f"shift={cfg.shift}: must be in [0, 14] pixels")
    _check(_finite(cfg.scale) and 0 <= cfg.scale < 1, f"scale={cfg.scale}: must be in [0, 1)")
    _check(cfg.remedy in REMEDIES, f"--remedy {cfg.remedy!r}: choose from {', '.join(REMEDIES)}")
    for level in cfg.eval_noise:
        _check(_finite(level) and 0 <= level <= 1, f"--eval-noise {level}: must be a fraction in [0, 1]")
    for level in cfg.eval_shift:
        _check(_finite(level) and 0 <= level <= 14, f"--eval-shift {level}: must be in [0, 14] pixels")
    counts = class_counts(cfg)  # also checks the imbalance spec
    n_total = sum(counts)
    n_val = int(cfg.val_split * n_total)
    _check(n_val >= 1 and n_total - n_val >= 1,
           f"--val-split {cfg.val_split} with {n_total} examples leaves "
           f"{'validation' if n_val < 1 else 'training'} empty; use more samples or another split")
    if cfg.imbalance:
        _check(all(round(cfg.val_split * c) < c for c in counts),
               f"--imbalance {cfg.imbalance!r}: the rarest class ({min(counts)} examples) has nothing left "
               "to train on after the validation split; raise the ratio or --samples-per-class")
    return cfg
