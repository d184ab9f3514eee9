"""Command-line arguments: the parser class, the run-config flags and the configs they make."""
from __future__ import annotations

import argparse
from pathlib import Path

from mnistlab.config import DEVICES, MODELS, PRECISIONS, REMEDIES, RunConfig, validate
from mnistlab.errors import ConfigError, UsageError


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line instead of argparse's usage dump
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def _float_list(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def parse_augment(spec: str) -> dict:
    """'shift=2,scale=0.1' -> {'shift': 2.0, 'scale': 0.1}."""
    out = {}
    for part in filter(None, spec.split(",")):
        name, _, value = part.partition("=")
        if name not in ("shift", "scale") or not value:
            raise ConfigError(f"--augment {spec!r}: use shift=PIXELS,scale=FRACTION (e.g. shift=2,scale=0.1)")
        try:
            out[name] = float(value)
        except ValueError:
            raise ConfigError(f"--augment {spec!r}: {value!r} is not a number") from None
    return out


def add_config_args(p: argparse.ArgumentParser, multi: bool = False) -> None:
    """The run-config flags shared by `run` and `sweep` (defaults: the notebook's)."""
    d = RunConfig()
    g = p.add_argument_group("experiment (defaults are the notebook's)")
    if not multi:
        g.add_argument("--samples-per-class", type=int, default=d.samples_per_class, metavar="N",
                       help="training-pool examples per class, before the val split (default %(default)s)")
        g.add_argument("--seed", type=int, default=d.seed, help="seed for subset, split, init and batches (default 0)")
    g.add_argument("--models", nargs="+", default=list(MODELS), metavar="MODEL",
                   help=f"models to train: {', '.join(MODELS)} (default: both)")
    g.add_argument("--val-split", type=float, default=d.val_split, help="fraction held out for validation (0.2)")
    g.add_argument("--epochs", type=int, default=d.epochs, help="max epochs; early stopping may end sooner (30)")
    g.add_argument("--patience", type=int, default=d.patience, help="epochs without val-loss improvement (5)")
    g.add_argument("--min-delta", type=float, default=d.min_delta, help="improvement that counts (0)")
    g.add_argument("--batch-size", type=int, default=d.batch_size, help="(128)")
    g.add_argument("--lr", type=float, default=d.lr, help="Adam learning rate (1e-3)")
    g.add_argument("--mlp-hidden", type=int, default=d.mlp_hidden, help="MLP hidden width (256)")
    g.add_argument("--cnn-c1", type=int, default=d.cnn_c1, help="CNN conv1 channels (16)")
    g.add_argument("--cnn-c2", type=int, default=d.cnn_c2, help="CNN conv2 channels (32)")
    g.add_argument("--cnn-fc", type=int, default=d.cnn_fc, help="CNN hidden fc width (128)")
    g.add_argument("--precision", choices=PRECISIONS, default=d.precision,
                   help="fp32 (default) or bf16 autocast (opt-in, faster where the hardware has bf16)")
    c = p.add_argument_group("corruption, augmentation, imbalance")
    c.add_argument("--noise", type=float, default=0.0, metavar="AMOUNT",
                   help="train with salt-and-pepper on this fraction of pixels, fresh each epoch (0)")
    c.add_argument("--augment", default="", metavar="SPEC",
                   help="random shifts/zoom while training, e.g. shift=2,scale=0.1 (pixels, zoom fraction)")
    c.add_argument("--imbalance", default="", metavar="SPEC",
                   help="reduce:3,5:0.1 (classes 3 and 5 at 10%%) or longtail:0.01 (exponential, last class 1%%)")
    c.add_argument("--remedy", choices=REMEDIES, default="none", help="for imbalance: class-weighted loss or oversampling")
    c.add_argument("--eval-noise", nargs="+", type=_float_list, default=[], metavar="AMOUNT",
                   help="also measure test accuracy under these salt-and-pepper levels")
    c.add_argument("--eval-shift", nargs="+", type=_float_list, default=[], metavar="PIXELS",
                   help="also measure test accuracy with test images shifted by these many pixels")
    r = p.add_argument_group("resources")
    r.add_argument("--device", choices=DEVICES, default="auto", help="auto picks CUDA when present")
    r.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's choice)")
    r.add_argument("--data-dir", type=Path, default=None,
                   help="folder with the four MNIST IDX files (default: $MNISTLAB_DATA or ~/.cache/mnistlab)")


def configs_from_args(args, samples_per_class=None, seed=None) -> list[RunConfig]:
    """One validated RunConfig per requested model."""
    augment = parse_augment(args.augment)
    configs = []
    for model in dict.fromkeys(args.models):  # de-duplicated, order kept
        cfg = RunConfig(
            model=model, samples_per_class=samples_per_class if samples_per_class is not None else args.samples_per_class,
            val_split=args.val_split, epochs=args.epochs, patience=args.patience, min_delta=args.min_delta,
            batch_size=args.batch_size, lr=args.lr, seed=seed if seed is not None else args.seed,
            mlp_hidden=args.mlp_hidden, cnn_c1=args.cnn_c1, cnn_c2=args.cnn_c2, cnn_fc=args.cnn_fc,
            precision=args.precision, noise=args.noise, shift=augment.get("shift", 0.0),
            scale=augment.get("scale", 0.0), imbalance=args.imbalance, remedy=args.remedy,
            eval_noise=tuple(args.eval_noise), eval_shift=tuple(args.eval_shift))
        configs.append(validate(cfg))
    if args.threads is not None and args.threads < 1:
        raise ConfigError(f"--threads {args.threads}: must be >= 1")
    return configs
