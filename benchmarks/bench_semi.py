"""A semi-supervised run's cost: the whole process, and the share of each step spent making augmented views.

    python benchmarks/bench_semi.py                      # one CNN run at 10/class, every unlabelled image, seed 0
    python benchmarks/bench_semi.py --skip-run --pairs 20
    python benchmarks/bench_semi.py --budget 1 --run-args --select typical-tsne   # chosen labels, selection timed

1. `mnistlab run --samples-per-class 10 --unlabeled all --models cnn` as a separate process: wall seconds and its
   test accuracy (read from results.json).
2. In this process, alternating: one full FixMatch step (views, forward, backward, Adam, EMA) and the views alone
   (the weak view of the labelled batch, the weak and strong views of the unlabelled batch) at the default batch
   sizes; prints the medians and the views' share of the step.
Run it on a quiet machine: nothing else training, no tests.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
from mnistlab.config import RunConfig  # noqa: E402
from mnistlab.data import augment  # noqa: E402
from mnistlab.models.registry import build_model  # noqa: E402
from mnistlab.training.optim import make_adam  # noqa: E402
from mnistlab.training.semi.catalog import get_method  # noqa: E402
from mnistlab.training.semi.loop import Ema  # noqa: E402
from mnistlab.training.semi.registry import SemiBatch, resolve_settings  # noqa: E402


def whole_run(seed: int, extra: list[str], budget: int = 10) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "mnistlab", "run", "--samples-per-class", str(budget), "--unlabeled", "all",
               "--models", "cnn", "--seed", str(seed), "--quiet", "--out", f"{tmp}/run", *extra]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - start
        acc = json.loads(Path(f"{tmp}/run/results.json").read_text())["models"]["cnn"]["test_acc"]
    return wall, acc


def step_and_views(pairs: int) -> tuple[float, float]:
    cfg = RunConfig(model="cnn", samples_per_class=10, unlabeled=1000, early_stopping=False)
    method = get_method(cfg.semi_method)
    settings = resolve_settings(method, cfg.semi_options)
    model = build_model(cfg)
    optimizer, ema = make_adam(model.parameters(), cfg.lr), Ema(model, settings["ema"])
    bs, ubs = cfg.batch_size, round(settings["uratio"] * cfg.batch_size)
    xl, yl, xu = torch.rand(bs, 1, 28, 28), torch.randint(0, 10, (bs,)), torch.rand(ubs, 1, 28, 28)
    gen = torch.Generator().manual_seed(0)

    def step():
        batch = SemiBatch(model, ema.model, xl, yl, xu, gen, lambda x: (x - 0.1307) / 0.3081, 1, 10)
        loss, _ = method.fn(batch, settings)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        ema.update()

    def views():
        augment.weak_view(xl, gen), augment.weak_view(xu, gen), augment.strong_view(xu, gen)

    steps: list[float] = []
    view_times: list[float] = []
    for _ in range(5):
        step()
    for _ in range(pairs):
        for fn, times in ((step, steps), (views, view_times)):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return statistics.median(steps), statistics.median(view_times)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=0, help="the whole run's seed (default 0)")
    p.add_argument("--budget", type=int, default=10, help="the whole run's labelled images per class (default 10)")
    p.add_argument("--pairs", type=int, default=50, help="alternated step/views measurements (default 50)")
    p.add_argument("--skip-run", action="store_true", help="only the step and the views, not the whole run")
    p.add_argument("--run-args", nargs=argparse.REMAINDER, default=[], help="more flags for the whole run")
    args = p.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}")
    step, views = step_and_views(args.pairs)
    print(f"FixMatch step at batch 128 + 3x128 unlabelled: {1000 * step:.1f} ms; views alone {1000 * views:.1f} ms: "
          f"{100 * views / step:.1f}% of the step (medians of {args.pairs} alternated pairs)")
    if not args.skip_run:
        wall, acc = whole_run(args.seed, args.run_args, args.budget)
        extra = "".join(f" {a}" for a in args.run_args)
        print(f"mnistlab run --samples-per-class {args.budget} --unlabeled all --models cnn --seed {args.seed}{extra}: "
              f"{wall:.1f} s wall, test accuracy {100 * acc:.2f}%")


if __name__ == "__main__":
    main()
