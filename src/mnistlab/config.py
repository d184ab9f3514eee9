"""Run configuration as plain values, its checks, and its hash (the key a run is stored under)."""
from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field, fields, replace

from mnistlab.errors import ConfigError

NOTEBOOK_MODELS = ("mlp", "cnn")  # the CLI's default: the notebook's two models (declared in mnistlab.models)
PRECISIONS = ("fp32", "bf16")
DEVICES = ("auto", "cpu", "cuda")
IMBALANCE_SCHEMES = ("reduce", "longtail")
REMEDIES = ("none", "weighted", "oversample")
SCHEDULES = ("constant", "cosine")
MAX_PER_CLASS = 60_000  # no dataset has more; each dataset's own limit is checked when a job is made
# The fields of the first release: always in the key, so stores written then still resume. Fields added
# since enter the key only when they differ from their default.
KEY_V1_FIELDS = ("model", "samples_per_class", "val_split", "epochs", "patience", "min_delta", "batch_size", "lr",
                 "seed", "mlp_hidden", "cnn_c1", "cnn_c2", "cnn_fc", "precision", "noise", "shift", "scale",
                 "imbalance", "remedy", "eval_noise", "eval_shift")
# Per-model settings are declared by each model (models.registry) and travel in model_args. The first release's
# four were config fields: a stored config keeps them at the top level, with these values when not set, so every
# key and stored config reads as before.
V1_MODEL_ARGS = {"mlp_hidden": 256, "cnn_c1": 16, "cnn_c2": 32, "cnn_fc": 128}
MODEL_ARG_NAME = re.compile(r"[a-z][a-z0-9]*_[a-z0-9_]+\Z")  # <model>_<setting>: its flag is --<model>-<setting>


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _int_in(low: int, high: float = math.inf):
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and low <= v <= high


def _fraction(v) -> bool:
    return _finite(v) and 0 <= v <= 1


def parse_unlabeled(text: str) -> int | str:
    """--unlabeled's value: `all`, or a count (anything else is left for the check to name)."""
    try:
        return text if text == "all" else int(text)
    except ValueError:
        return text


def option(default, help: str, *, flag: str | None = "", allowed: str = "", check=None, choices=None,
           group: str = "experiment", metavar: str | None = None, parse=None):
    """A RunConfig field with everything its CLI flag, --help and validation message need.

    flag "" means --field-name; None means no flag of its own (set by a composite flag such as --augment).
    """
    meta = {"help": help, "flag": flag, "allowed": allowed, "check": check, "choices": choices, "group": group,
            "metavar": metavar, "parse": parse}
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class RunConfig:
    """Everything one model's run depends on. Defaults are the notebook's."""

    model: str = option(NOTEBOOK_MODELS[0], "model to train (a registered name)", flag=None)
    samples_per_class: int = option(300, "training-pool examples per class, before the val split (at most the "
                                    "smallest class: 5,421 in MNIST, 6,000 in Fashion-MNIST)",
                                    allowed="an integer >= 1", check=_int_in(1, MAX_PER_CLASS), metavar="N")
    val_split: float = option(0.2, "fraction held out for validation", allowed="a fraction strictly between 0 and 1",
                              check=lambda v: _finite(v) and 0 < v < 1)
    epochs: int = option(30, "max epochs; early stopping may end sooner", allowed="an integer >= 1", check=_int_in(1))
    patience: int = option(5, "epochs without val-loss improvement before stopping", allowed="an integer >= 1",
                           check=_int_in(1))
    min_delta: float = option(0.0, "val-loss improvement that counts", allowed="a finite number >= 0",
                              check=lambda v: _finite(v) and v >= 0)
    batch_size: int = option(128, "minibatch size", allowed="an integer >= 1", check=_int_in(1))
    lr: float = option(1e-3, "Adam learning rate", allowed="a finite number > 0", check=lambda v: _finite(v) and v > 0)
    seed: int = option(0, "seed for subset, split, init and batches", allowed="an integer in [0, 2^32)",
                       check=_int_in(0, 2**32 - 1))
    # The models' own settings, e.g. (("mlp_hidden", 128),): each model declares its settings when it registers
    # (their flags, checks and defaults live there); only values away from the default are kept.
    model_args: tuple | dict = option((), "per-model settings (set by each model's flags)", flag=None)
    precision: str = option("fp32", "fp32, or bf16 autocast (opt-in, faster where the hardware has bf16)",
                            choices=PRECISIONS)
    # Corruptions and augmentation (train-time, applied on the fly to raw pixels).
    noise: float = option(0.0, "train with salt-and-pepper on this fraction of pixels, fresh each epoch",
                          allowed="a fraction in [0, 1]", check=_fraction, group="corruption", metavar="AMOUNT")
    shift: float = option(0.0, "random translation, up to this many pixels each way", flag=None,
                          allowed="in [0, 14] pixels", check=lambda v: _finite(v) and 0 <= v <= 14)
    scale: float = option(0.0, "random zoom in [1 - scale, 1 + scale]", flag=None, allowed="in [0, 1)",
                          check=lambda v: _finite(v) and 0 <= v < 1)
    imbalance: str = option("", "reduce:3,5:0.1 (classes 3 and 5 at 10%%) or longtail:0.01 (exponential, last "
                            "class 1%%)", group="corruption", metavar="SPEC")
    remedy: str = option("none", "for imbalance: class-weighted loss or oversampling", choices=REMEDIES,
                         group="corruption")
    # Test-time corruption levels for robustness curves (the clean test is always measured).
    eval_noise: tuple = option((), "also measure test accuracy under these salt-and-pepper levels",
                               allowed="a fraction in [0, 1]", check=_fraction, group="corruption", metavar="AMOUNT")
    eval_shift: tuple = option((), "also measure test accuracy with test images shifted by these many pixels",
                               allowed="in [0, 14] pixels", check=lambda v: _finite(v) and 0 <= v <= 14,
                               group="corruption", metavar="PIXELS")
    # The training recipe beyond the notebook's plain method (`--recipe best` sets these; none is on by default).
    early_stopping: bool = option(True, "train exactly --epochs epochs on the whole pool: no validation split, no "
                                  "early stopping (for budgets too small to hold out a validation set)",
                                  flag="--no-early-stopping", group="recipe")
    rotate: float = option(0.0, "random rotation, up to this many degrees each way", flag=None,
                           allowed="in [0, 180] degrees", check=lambda v: _finite(v) and 0 <= v <= 180)
    dropout: float = option(0.0, "dropout before each hidden Linear layer (adds no parameter, moves no weight)",
                            allowed="a fraction in [0, 1)", check=lambda v: _finite(v) and 0 <= v < 1, group="recipe")
    weight_decay: float = option(0.0, "decoupled weight decay (AdamW); 0 is the notebook's Adam",
                                 allowed="a finite number >= 0", check=lambda v: _finite(v) and v >= 0,
                                 group="recipe")
    label_smoothing: float = option(0.0, "label smoothing of the training loss", allowed="a fraction in [0, 1)",
                                    check=lambda v: _finite(v) and 0 <= v < 1, group="recipe")
    schedule: str = option("constant", "learning rate over the epochs: constant (the notebook's) or cosine "
                           "(from --lr down to 0 at --epochs)", choices=SCHEDULES, group="recipe")
    dataset: str = option("mnist", "dataset: mnist or fashion-mnist (`mnistlab data --dataset NAME` fetches and "
                          "verifies it)", metavar="NAME")
    # Semi-supervised training on the labelled subset plus unlabelled training images (0: supervised only).
    unlabeled: int | str = option(0, "also train on this many unlabelled training images (all: every training image "
                                  "outside the labelled subset); their labels are never read",
                                  allowed="an integer >= 0 or all", check=lambda v: v == "all" or _int_in(0)(v),
                                  group="semi", metavar="N|all", parse=parse_unlabeled)
    semi_method: str = option("fixmatch", "semi-supervised method: a registered name (`mnistlab methods` lists them), "
                              "path/to/file.py:function or package.module:function", group="semi", metavar="NAME")
    semi_options: str = option("", "the method's settings, e.g. threshold=0.9,uratio=7 (`mnistlab methods` shows "
                               "each method's)", group="semi", metavar="NAME=VALUE,...")
    steps: int = option(3000, "optimizer steps of a semi-supervised run (its fixed schedule)",
                        allowed="an integer from 1 to 10000000", check=_int_in(1, 10_000_000), group="semi")
    # Which training images get labels (a registered rule, mnistlab.selection): `random` is the notebook's balanced
    # draw; any other rule picks samples_per_class x classes images without reading a label.
    select: str = option("random", "which training images get labels: random (the notebook's balanced per-class "
                         "draw), random-any (the same total, any class), typical (TypiClust: the most typical image "
                         "of each cluster), or path/to/file.py:function; `mnistlab rules` lists them",
                         metavar="RULE")
    # Filled in when a job is made: a user model's code is part of its runs' key ("" for mnistlab's own).
    model_source: str = option("", "SHA-256 of a user model's source file (set by mnistlab)", flag=None,
                               allowed="a SHA-256 hex digest, or empty for mnistlab's own models",
                               check=lambda v: isinstance(v, str) and re.fullmatch("(?:[0-9a-f]{64})?", v) is not None)
    semi_source: str = option("", "SHA-256 of a user semi-supervised method's source file (set by mnistlab)",
                              flag=None, allowed="a SHA-256 hex digest, or empty for mnistlab's own methods",
                              check=lambda v: isinstance(v, str) and re.fullmatch("(?:[0-9a-f]{64})?", v) is not None)
    select_source: str = option("", "SHA-256 of a user selection rule's source file (set by mnistlab)", flag=None,
                                allowed="a SHA-256 hex digest, or empty for mnistlab's own rules",
                                check=lambda v: isinstance(v, str) and re.fullmatch("(?:[0-9a-f]{64})?", v) is not None)

    def __post_init__(self):
        args = self.model_args.items() if isinstance(self.model_args, dict) else self.model_args
        try:  # one canonical form, so that equal settings make equal configs: sorted, the first release's defaults out
            pairs = tuple(sorted((name, value) for name, value in args if V1_MODEL_ARGS.get(name, ...) != value))
        except (TypeError, ValueError):
            raise ConfigError(f"model settings {self.model_args!r}: give name=value pairs") from None
        object.__setattr__(self, "model_args", pairs)

    def model_arg(self, name: str, default):
        """A model setting's value here, or its default."""
        return dict(self.model_args).get(name, default)

    def to_dict(self) -> dict:
        """Plain values in field order, the model settings flat where the first release had its four (always
        present), so a stored config reads byte for byte as before."""
        d: dict = {}
        for f in fields(self):
            if f.name == "model_args":
                d.update({**V1_MODEL_ARGS, **dict(self.model_args)})
            else:
                value = getattr(self, f.name)
                d[f.name] = list(value) if isinstance(value, tuple) else value
        return d

    @classmethod
    def from_dict(cls, d: dict) -> RunConfig:
        known = {f.name for f in fields(cls)} - {"model_args"}
        unknown = {k for k in d if k not in known and not (isinstance(k, str) and MODEL_ARG_NAME.match(k))}
        if unknown:
            first = sorted(unknown, key=str)[0]
            raise ConfigError(f"unknown config key {first!r}{near_field(first)}; allowed: {', '.join(sorted(known))} "
                              "and model settings (<model>_<setting>)")
        d = dict(d)
        for k in ("eval_noise", "eval_shift"):
            if k in d:
                try:
                    d[k] = tuple(float(v) for v in d[k])
                except (TypeError, ValueError):
                    raise ConfigError(f"{flag_of(k)} {d[k]!r}: give numbers") from None
        args = {k: d.pop(k) for k in list(d) if k not in known}
        return cls(**d, model_args=args)

    def key(self, data_checksums: dict | None = None) -> str:
        """Hash of the resolved config (and the data it reads): equal keys, equal experiments.

        Fields added after the first release enter it only away from their default, so old keys hold."""
        defaults = RunConfig().to_dict()
        config = {k: v for k, v in self.to_dict().items() if k in KEY_V1_FIELDS or v != defaults.get(k)}
        payload = {"config": config, "data": data_checksums or {}}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]

    def with_(self, **changes) -> RunConfig:
        return replace(self, **changes)


# `--recipe NAME`: field values set together (each stays an ordinary field of the key). "best" was chosen on
# validation data and seeds 100-102, never on the test set or the reported seeds (docs/results.md, ablation).
RECIPES: dict[str, dict] = {
    "plain": {},
    "best": {"shift": 2.0, "scale": 0.1, "rotate": 20.0, "dropout": 0.2, "weight_decay": 5e-4,
             "label_smoothing": 0.1, "lr": 3e-3, "schedule": "cosine", "epochs": 150, "patience": 30},
}


def flag_of(name: str) -> str:
    """The CLI flag that sets a field or a model setting (validation messages name it)."""
    flag = next((f.metadata["flag"] for f in fields(RunConfig) if f.name == name), "")
    if flag is None:  # set through a composite flag (e.g. --augment shift=2): named as there
        return name
    return flag or f"--{name.replace('_', '-')}"


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


def near_field(name) -> str:
    """' (did you mean epochs?)' for a near miss of a config field's name, else ''."""
    import difflib

    close = difflib.get_close_matches(str(name), [f.name for f in fields(RunConfig)], n=1, cutoff=0.75)
    return f" (did you mean {close[0]}?)" if close else ""


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


SEMI_FIELDS = ("semi_method", "semi_options", "steps")


def _check_semi(cfg: RunConfig) -> None:
    """Semi-supervised runs have a fixed schedule and a balanced subset. (Semi settings on a supervised config
    change nothing: a job puts them back to their defaults, so they never enter its key.)"""
    if not cfg.unlabeled:
        return
    _check(not cfg.imbalance, f"--unlabeled {cfg.unlabeled} with --imbalance {cfg.imbalance!r}: the unlabelled pool "
           "would keep the balanced class profile the imbalance study removes; use one or the other")
    _check(not cfg.early_stopping, f"--unlabeled {cfg.unlabeled}: a semi-supervised run trains a fixed --steps "
           "schedule on every labelled image; set early_stopping=False (the CLI's --unlabeled implies it)")


def validate(cfg: RunConfig) -> RunConfig:
    """Raise ConfigError naming the first bad value; return the config unchanged when all is well.

    Each field is checked against its declaration; the model's name is checked by the model registry."""
    _check(isinstance(cfg.model, str) and bool(cfg.model), f"--models {cfg.model!r}: give a model name")
    for f in fields(RunConfig):
        meta, value = f.metadata, getattr(cfg, f.name)
        flag = flag_of(f.name)
        if meta["choices"] is not None:
            _check(value in meta["choices"], f"{flag} {value!r}: choose from {', '.join(meta['choices'])}")
        if meta["check"] is not None:
            for v in (value if isinstance(value, tuple) else (value,)):
                _check(meta["check"](v), f"{flag} {v}: must be {meta['allowed']}")
    for name, _ in cfg.model_args:  # their values are checked by the model registry, which declares them
        _check(isinstance(name, str) and MODEL_ARG_NAME.match(name) is not None,
               f"{name!r}: neither a config field{near_field(name)} nor a model's setting (<model>_<setting>)")
    counts = class_counts(cfg)  # also checks the imbalance spec
    _check(isinstance(cfg.select, str) and bool(cfg.select), f"--select {cfg.select!r}: give a rule's name")
    _check(cfg.select == "random" or not cfg.imbalance, f"--select {cfg.select} with --imbalance {cfg.imbalance!r}: "
           "a rule picks without reading labels, so it cannot make the imbalance asked for; use one or the other")
    _check_semi(cfg)
    if not cfg.early_stopping:
        return cfg  # the whole pool trains: no validation split to check
    n_total = sum(counts)
    n_val = int(cfg.val_split * n_total)
    _check(n_val >= 1 and n_total - n_val >= 1,
           f"--val-split {cfg.val_split} with {n_total} examples leaves "
           f"{'validation' if n_val < 1 else 'training'} empty; use more samples, another split, or "
           "--no-early-stopping (fixed --epochs on the whole pool, no validation)")
    if cfg.imbalance:
        _check(all(round(cfg.val_split * c) < c for c in counts),
               f"--imbalance {cfg.imbalance!r}: the rarest class ({min(counts)} examples) has nothing left "
               "to train on after the validation split; raise the ratio or --samples-per-class")
    return cfg
