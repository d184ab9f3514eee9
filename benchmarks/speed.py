"""Every speed ratio mnistlab sets itself, measured on the machine it runs on, in one command.

    python benchmarks/speed.py                 # about 10 minutes on a 2-core CPU: all five figures
    python benchmarks/speed.py --pairs 2 --skip-semi-run --json speed.json

1. `mnistlab --help`, and the slower of `run --help` and `sweep --help`: wall seconds of the whole process
   (medians of --pairs).
2. The notebook's code (benchmarks/notebook_reference.py) vs `mnistlab run` at the notebook's defaults, both as
   separate processes, alternated in pairs (seed = pair index): the median of the per-pair ratios, and each
   side's mean test accuracy.
3. One training step at batch 128 (forward, backward, Adam on resident data, as fit() runs it), MLP and CNN, fp32:
   GFLOP/s against the fp32 matmul ceiling (2048^3) measured in the same process.
4. A FixMatch step at its default batch sizes against making its augmented views alone: the views' share.
5. One semi-supervised CNN run (10 labelled per class, every unlabelled image, seed 0) as its own process: wall s.
Run it on a quiet machine: nothing else training, no tests.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_run import matmul_ceiling, mnistlab, reference  # noqa: E402
from bench_semi import step_and_views, whole_run  # noqa: E402
from bench_step import step_ms  # noqa: E402
from mnistlab.config import RunConfig  # noqa: E402
from mnistlab.models import train_flops_per_sample  # noqa: E402

TARGETS = {"help_s": 0.3, "train_help_s": 0.5, "run_ratio": 6.0, "cnn_ceiling_share": 0.65, "views_share": 0.15,
           "semi_run_s": 300.0}


def help_seconds(repeats: int, *command: str) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "mnistlab", *command, "--help"], check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def notebook_vs_run(pairs: int) -> dict:
    ratios: list[float] = []
    sides: dict[str, list[dict]] = {"notebook": [], "mnistlab": []}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(pairs):
            order = ("notebook", "mnistlab") if seed % 2 == 0 else ("mnistlab", "notebook")  # alternate who goes first
            got = {}
            for side in order:
                got[side] = (reference(seed, Path(tmp) / "ref") if side == "notebook"
                             else mnistlab(seed, Path(tmp) / "run", "fp32"))
                sides[side].append(got[side])
            ratios.append(got["notebook"]["wall"] / got["mnistlab"]["wall"])
            print(f"  pair {seed}: notebook {got['notebook']['wall']:.2f} s, mnistlab run "
                  f"{got['mnistlab']['wall']:.2f} s, ratio {ratios[-1]:.2f}x", flush=True)
    acc = {side: {m: statistics.mean(r["acc"][m] for r in runs) for m in ("mlp", "cnn")}
           for side, runs in sides.items()}
    return {"ratio": statistics.median(ratios), "ratios": ratios, "accuracy": acc,
            "wall": {side: statistics.median(r["wall"] for r in runs) for side, runs in sides.items()}}


def step_shares(ceiling: float, steps: int, repeats: int) -> dict:
    out = {}
    for name in ("mlp", "cnn"):
        ms = step_ms(name, "fp32", steps=steps, repeats=repeats)
        gflops = train_flops_per_sample(RunConfig(model=name)) * 128 / ms / 1e6
        out[name] = {"ms": ms, "gflops": gflops, "share": gflops / ceiling}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pairs", type=int, default=4, help="notebook/run pairs and --help repeats (default 4)")
    p.add_argument("--view-pairs", type=int, default=30, help="alternated FixMatch step/views timings (default 30)")
    p.add_argument("--skip-semi-run", action="store_true", help="leave out the 2-5 minute semi-supervised run")
    p.add_argument("--json", type=Path, default=None, help="also write every figure here")
    args = p.parse_args(argv)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, Python {platform.python_version()}", flush=True)
    figures: dict = {"help_s": help_seconds(args.pairs)}
    figures["train_help_s"] = max(help_seconds(args.pairs, "run"), help_seconds(args.pairs, "sweep"))
    print(f"1. mnistlab --help: {figures['help_s']:.2f} s; run --help and sweep --help: the slower "
          f"{figures['train_help_s']:.2f} s (medians of {args.pairs})", flush=True)
    runs = notebook_vs_run(args.pairs)
    figures["run_ratio"], figures["runs"] = runs["ratio"], runs
    print(f"2. notebook code vs mnistlab run: {runs['ratio']:.2f}x (median of {args.pairs} per-pair ratios); "
          f"test accuracy notebook MLP {runs['accuracy']['notebook']['mlp']:.4f} CNN "
          f"{runs['accuracy']['notebook']['cnn']:.4f}, mnistlab MLP {runs['accuracy']['mnistlab']['mlp']:.4f} CNN "
          f"{runs['accuracy']['mnistlab']['cnn']:.4f}", flush=True)
    ceiling = matmul_ceiling()
    steps = step_shares(ceiling, steps=40, repeats=5)
    figures.update(ceiling_gflops=ceiling, steps=steps, cnn_ceiling_share=steps["cnn"]["share"])
    print(f"3. fp32 matmul ceiling {ceiling:.0f} GFLOP/s; step at batch 128: " + ", ".join(
        f"{m.upper()} {s['ms']:.2f} ms = {s['gflops']:.0f} GFLOP/s = {100 * s['share']:.0f}%"
        for m, s in steps.items()), flush=True)
    step, views = step_and_views(args.view_pairs)
    figures.update(fixmatch_step_ms=1000 * step, views_ms=1000 * views, views_share=views / step)
    print(f"4. FixMatch step {1000 * step:.1f} ms, views alone {1000 * views:.1f} ms: {100 * views / step:.1f}% "
          f"(medians of {args.view_pairs} alternated pairs)", flush=True)
    if not args.skip_semi_run:
        wall, acc = whole_run(0, [])
        figures.update(semi_run_s=wall, semi_run_acc=acc)
        print(f"5. semi-supervised CNN run, 10/class, every unlabelled image, seed 0: {wall:.1f} s wall, "
              f"test accuracy {100 * acc:.2f}%", flush=True)
    print("\nfigure                              measured     target    met")
    rows = [("mnistlab --help (s)", "help_s", "<="), ("run/sweep --help (s)", "train_help_s", "<="),
            ("run vs notebook code (x)", "run_ratio", ">="),
            ("CNN step / fp32 ceiling", "cnn_ceiling_share", ">="), ("views / FixMatch step", "views_share", "<"),
            ("semi CNN run (s)", "semi_run_s", "<=")]
    for label, key, sense in rows:
        if key in figures:
            value, target = figures[key], TARGETS[key]
            met = value <= target if sense == "<=" else value >= target if sense == ">=" else value < target
            print(f"{label:32s} {value:10.3f} {sense:>3s}{target:7.2f}    {'yes' if met else 'no'}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
