"""What the command handlers share: logging to stderr, checks of --out and --threads, torch's setup."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from mnistlab.cli.args import UsageError, check_threads  # noqa: F401 - the handlers' checks in one place


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def check_out_writable(folder: Path, flag: str = "--out") -> None:
    """Prove a file can be written where `folder` is, or will be created, without creating anything."""
    from mnistlab.atomic import check_writable

    existing = Path(folder)
    while not os.path.lexists(existing) and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"{flag} {folder}: cannot write there ({existing} is a file, not a folder)")
    try:
        check_writable(existing)
    except OSError as e:
        raise UsageError(f"{flag} {folder}: cannot write there ({e.strerror or e})") from None


def check_stopping_flags(args) -> None:
    """--patience given beside --no-early-stopping would change the run's key and nothing else: refused.

    Only the user's flag: a recipe's own patience stays, so `--recipe best --no-early-stopping` works."""
    from mnistlab.config import RunConfig

    if getattr(args, "early_stopping", True) is False and getattr(args, "patience", None) not in (
            None, RunConfig().patience):
        raise UsageError(f"--patience {args.patience}: has no effect with --no-early-stopping (no validation split "
                         "to stop on); drop one of the two")


def setup_torch(args):
    import torch

    from mnistlab.training.device import resolve_device

    if args.threads:
        torch.set_num_threads(args.threads)
    return resolve_device(args.device)
