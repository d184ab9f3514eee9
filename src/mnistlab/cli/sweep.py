"""`mnistlab sweep` and `mnistlab summarize`: the grid from the flags, the executor, the printed summary."""
from __future__ import annotations

from pathlib import Path

from mnistlab.cli.args import UsageError, configs_from_args
from mnistlab.cli.common import check_out_writable, check_stopping_flags, log, setup_torch
from mnistlab.cli.failures import writing
from mnistlab.i18n import t


def parse_int_list(tokens, flag: str, low: int = 0, high: int = 2**32 - 1) -> list[int] | None:
    """['0-4', '7'] -> [0, 1, 2, 3, 4, 7]; None when the flag was not given.

    Ranges are checked before any list is built: `--seeds 0-1000000000` is refused, not allocated."""
    from mnistlab.config import ConfigError
    from mnistlab.sweeps.grid import MAX_RUNS

    if tokens is None:
        return None
    ranges = []
    for token in tokens:
        try:
            a, dash, b = token.partition("-")
            first, last = int(a), int(b) if dash else int(a)
        except ValueError:
            raise ConfigError(f"{flag} {token!r}: use integers or ranges like 0-4") from None
        if last < first:
            raise ConfigError(f"{flag} {token}: a range runs from low to high, e.g. {last}-{first}")
        bad = first if first < low else last if last > high else None
        if bad is not None:
            raise ConfigError(f"{flag} {bad}: must be from {low} to {high}")
        ranges.append((first, last))
    if not ranges:
        raise ConfigError(f"{flag}: empty list; give at least one value")
    size = sum(last - first + 1 for first, last in ranges)
    if size > MAX_RUNS:
        raise ConfigError(f"{flag} {' '.join(tokens)}: {size:,} values; a sweep holds at most {MAX_RUNS:,} runs")
    return sorted({v for first, last in ranges for v in range(first, last + 1)})


def check_study_flags(args, base: dict) -> None:
    """Refuse a flag the study's variants would override: a variant would silently not be what was asked for."""
    from mnistlab.config import RECIPES, RunConfig, flag_of
    from mnistlab.sweeps.studies import variants_of

    variants = variants_of(args.study)
    recipe = getattr(args, "recipe", "plain")
    setting = [label for label, overrides in variants if set(overrides) & set(RECIPES[recipe])]
    if setting:
        raise UsageError(f"--recipe {recipe}: --study {args.study} sets the recipe itself in its variant "
                         f"{setting[0]!r}, so its variants would collapse into one; drop --recipe")
    defaults = RunConfig().to_dict()
    for label, overrides in variants:
        for name, value in overrides.items():  # even at the variant's own value: the others would take it too
            if name in base and base[name] != defaults.get(name):
                shown = " ".join(map(str, base[name])) if isinstance(base[name], list) else base[name]
                raise UsageError(f"{flag_of(name)} {shown}: --study {args.study} sets {name} per variant ({value} in "
                                 f"{label!r}), so the flag would change the other variants or be overridden; drop the "
                                 "flag or use --study main")


def spec_from_args(args, stored):
    """The sweep asked for: flags where given, else what the folder already holds, else the defaults."""
    from mnistlab.config import MAX_PER_CLASS, RunConfig
    from mnistlab.sweeps.grid import SweepSpec, base_config, make_spec

    check_stopping_flags(args)
    configs = configs_from_args(args)  # the grid's own fields (budget, seed) are set per run
    base_cfg = base_config(configs[0])
    check_study_flags(args, base_cfg)
    spec = make_spec(configs[0], [cfg.model for cfg in configs],
                     parse_int_list(args.budgets, "--budgets", low=1, high=MAX_PER_CLASS),
                     parse_int_list(args.seeds, "--seeds"), args.study)
    untouched = (args.budgets is None and args.seeds is None and args.study == "main"
                 and spec.models == SweepSpec().models and base_cfg == base_config(RunConfig()))
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

    from mnistlab.api import run_grid
    from mnistlab.sweeps.grid import load_spec
    from mnistlab.sweeps.runner import run_line

    out = args.out
    from mnistlab.sweeps.executors.ray_cluster import check_shares

    check_shares(args.gpus_per_run, args.cpus_per_run)  # the executor's own rule, checked before anything starts
    if args.tensorboard is not None:
        from mnistlab.figures.tensorboard import require_tensorboard, write_scalars

        require_tensorboard()
        check_out_writable(args.tensorboard, "--tensorboard")  # before any run: not after the sweep has trained
    spec = spec_from_args(args, load_spec(out))
    plan_size = len(spec.plan())
    setup_torch(args)
    check_out_writable(out)  # every flag is checked before --out is created (run_sweep creates it)
    executor = make_executor(args)
    progress = Progress(TextColumn("[bold]sweep"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        TextColumn("ETA"), TimeRemainingColumn(), disable=args.quiet, transient=False)
    task = progress.add_task("runs", total=plan_size)
    done_count = [0]

    def on_result(outcome):
        done_count[0] += 1
        progress.advance(task)
        if outcome.result and args.tensorboard is not None:
            write_scalars(args.tensorboard, outcome.result, outcome.job.variant)
        if not args.quiet:
            progress.console.print(run_line(outcome), markup=False)  # a [variant] tag is text, not rich markup

    with progress, writing(out):
        try:
            outcome = run_grid(out, spec, device=args.device, data_dir=args.data_dir, executor=executor,
                                log=log, on_result=on_result, allow_mixed=args.allow_mixed)
        except KeyboardInterrupt:  # before the first run started: nothing to count yet
            log(t("sweep_stopped_early", args.lang, n=done_count[0], out=out))
            return 130
        progress.update(task, completed=outcome.skipped + done_count[0])
    if outcome.mixed:
        log(t("sweep_mixed", args.lang, out=out))
    if outcome.interrupted:
        log(t("sweep_stopped", args.lang, done=outcome.skipped + outcome.finished, total=outcome.total, out=out))
        return 130
    log(t("sweep_counts", args.lang, total=outcome.total, skipped=outcome.skipped, finished=outcome.finished,
          failed=len(outcome.failed)))
    for key, message in outcome.failed:
        log(t("sweep_failed", args.lang, run=key, message=message.split(" | ")[0]))
    if not args.no_summary:
        with writing(out):
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
    from rich.console import Console

    from mnistlab.api import summarize_sweep
    from mnistlab.sweeps.tables import aggregate_table, rich_table

    summary = summarize_sweep(folder, lang=lang)
    console = Console(width=140)
    console.print(rich_table(aggregate_table(summary, lang), t("over_seeds", lang, folder=folder)))
    for line in summary["findings"]:
        console.print("• " + line)
    if summary.get("mixed"):
        console.print(f"[bold]{t('sweep_mixed_label', lang)}[/bold]: {summary['mixed']}")
    if summary["nodes"] > 1:
        console.print(t("sweep_nodes", lang, n=summary["nodes"]), markup=False)
    if not summary["complete"]:
        console.print(t("sweep_partial", lang, counts=summary["counts"]), markup=False)
    console.print(t("written_under", lang, folder=folder), markup=False)


def cmd_summarize(args) -> int:
    from mnistlab.sweeps.summary import SummaryError

    try:
        with writing(args.folder, "summarize a copy of it"):
            print_summary(args.folder, args.lang)
    except SummaryError as e:
        raise UsageError(str(e)) from None
    return 0
