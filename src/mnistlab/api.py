"""The Python API behind the CLI and the notebook: run a config end to end, load results back."""
from __future__ import annotations

from pathlib import Path

from mnistlab.config import RunConfig, validate


def run(configs, out: str | Path | None = None, *, data_dir=None, device: str = "auto", lang: str = "pt",
        overwrite: bool = False, on_epoch=None, log=lambda msg: None):
    """Train each config (one per model, sharing data), evaluate, and write a run folder if `out` is given.

    configs: a RunConfig or a list of them. on_epoch(model, epoch, train_loss, train_acc, val_loss, val_acc)
    is called after every epoch. Returns the list of ModelResult.
    """
    from mnistlab.data.mnist import load_mnist
    from mnistlab.runs.folder import RunDirError, existing_key, run_key, write_run
    from mnistlab.runs.pipeline import DeviceData, environment, finish, resolve_device, train_model

    configs = [validate(c) for c in ([configs] if isinstance(configs, RunConfig) else configs)]
    torch_device = resolve_device(device)
    mnist = load_mnist(data_dir, log=log)
    if out is not None:
        if existing_key(out) not in (None, run_key(c.key(mnist.checksums) for c in configs)) and not overwrite:
            raise RunDirError(f"--out {out}: already holds a different run; pass --overwrite to replace it "
                              "or choose another --out")
    data = DeviceData(mnist, torch_device)
    trained = []
    for cfg in configs:
        callback = (lambda *a, m=cfg.model: on_epoch(m, *a)) if on_epoch else None
        trained.append((cfg, *train_model(cfg, data, on_epoch=callback)))
    results, models = [], {}
    for cfg, model, fitted, train_y in trained:
        result = finish(cfg, data, model, fitted, train_y)
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
    from mnistlab.runs.folder import load_run

    return load_run(Path(folder))


def sweep_runs(out: str | Path, *, budgets=(50, 100, 300, 1000), seeds=range(5), models=("mlp", "cnn"),
          study: str = "main", lang: str = "pt", data_dir=None, device: str = "auto", log=lambda msg: None,
          **config) -> dict:
    """Run (or resume) a sweep into `out` and return its summary (aggregates, comparisons, findings).

    config: any RunConfig field shared by every run (epochs=10, lr=3e-3, ...).
    """
    from mnistlab.config import validate
    from mnistlab.sweeps.runner import SweepSpec, base_config, run_sweep
    from mnistlab.sweeps.studies import apply_study
    from mnistlab.sweeps.summary import summarize

    spec = apply_study(SweepSpec(base=base_config(validate(RunConfig(**config))), models=list(models), budgets=sorted(set(budgets)),
                                 seeds=sorted(set(seeds))), study, budgets_given=True)
    run_sweep(Path(out), spec, device=device, data_dir=data_dir, log=log)
    return summarize(Path(out), lang)


def explain_models(folder: str | Path, *, tsne: bool = True, gradcam: bool = True, max_points: int = 10_000,
            lang: str = "pt", data_dir=None) -> dict:
    """t-SNE + separation numbers, Grad-CAM/saliency and worst-error figures for a run folder."""
    from mnistlab.data.mnist import load_mnist
    from mnistlab.explain.run import explain_run

    return explain_run(Path(folder), load_mnist(data_dir), do_tsne=tsne, do_gradcam=gradcam,
                       max_points=max_points, lang=lang)


def make_report(folder: str | Path, *, lang: str = "pt", allow_partial: bool = False, compile: bool = True) -> dict:
    """report/report.tex (+PDF when TeX is installed) and report/index.html for a run or sweep folder."""
    from mnistlab.report.build import build_report

    return build_report(Path(folder), lang=lang, allow_partial=allow_partial, compile=compile)
