"""The Python API behind the CLI and the notebook: run a config end to end, load results back."""
from __future__ import annotations

from pathlib import Path

from .config import RunConfig, validate


def run(configs, out: str | Path | None = None, *, data_dir=None, device: str = "auto", lang: str = "pt",
        overwrite: bool = False, on_epoch=None, log=lambda msg: None):
    """Train each config (one per model, sharing data), evaluate, and write a run folder if `out` is given.

    configs: a RunConfig or a list of them. on_epoch(model, epoch, train_loss, train_acc, val_loss, val_acc)
    is called after every epoch. Returns the list of ModelResult.
    """
    from .data import load_mnist
    from .experiment import DeviceData, environment, prefetch_imports, resolve_device, train_one
    from .rundir import RunDirError, existing_key, write_run

    prefetch_imports()
    configs = [validate(c) for c in ([configs] if isinstance(configs, RunConfig) else configs)]
    torch_device = resolve_device(device)
    mnist = load_mnist(data_dir, log=log)
    if out is not None:
        key = "+".join(cfg.key(mnist.checksums) for cfg in configs)
        if existing_key(out) not in (None, key) and not overwrite:
            raise RunDirError(f"--out {out}: already holds a different run; pass --overwrite to replace it "
                              "or choose another --out")
    data = DeviceData(mnist, torch_device)
    results, models = [], {}
    for cfg in configs:
        callback = (lambda *a, m=cfg.model: on_epoch(m, *a)) if on_epoch else None
        result, model = train_one(cfg, data, on_epoch=callback)
        status = "DIVERGED: " if result.status == "diverged" else ""
        log(f"[{cfg.model.upper()}] {status}{result.message or 'ran all epochs'}; test_acc={result.test_acc:.4f}")
        results.append(result)
        models[cfg.model] = model
    if out is not None:
        write_run(Path(out), results, models, environment(torch_device),
                  {"folder": str(mnist.folder), "md5": mnist.checksums}, lang=lang)
    return results


def load_results(folder: str | Path) -> dict:
    """A run folder's results (results.json) as a dict: {"models": {"mlp": {...}, ...}, ...}."""
    from .rundir import load_run

    return load_run(Path(folder))
