"""Whole-process timing: the notebook's pipeline vs `mnistlab run`, alternating, in one invocation.

    python benchmarks/bench_run.py --repeats 5            # seeds 0..4, fp32 and bf16 mnistlab
    python benchmarks/bench_run.py --repeats 3 --no-bf16

Each repeat runs, as separate processes and one after another: the reference (benchmarks/
notebook_reference.py), `mnistlab run` (fp32, the default) and `mnistlab run --precision bf16`, all
at the notebook's defaults with seed = repeat index. Prints the medians, the ratios, each side's test
accuracy (mean over seeds) and mnistlab's training throughput against a matmul ceiling measured here.
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
sys.path.insert(0, str(HERE.parent / "src"))
from mnistlab.config import RunConfig  # noqa: E402
from mnistlab.models import train_flops_per_sample  # noqa: E402


def matmul_ceiling(dtype=torch.float32, n: int = 2048, repeats: int = 10) -> float:
    """GFLOP/s of an n^3 matmul with torch's current threads: the practical compute ceiling."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    for _ in range(3):
        a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n ** 3 * repeats / (time.perf_counter() - start) / 1e9


def timed(cmd: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    return elapsed, proc.stdout


def reference(seed: int, out: Path) -> dict:
    wall, stdout = timed([sys.executable, str(HERE / "notebook_reference.py"), "--quiet", "--seed", str(seed),
                          "--out", str(out)])
    payload = json.loads(stdout.strip().splitlines()[-1])
    return {"wall": wall, "acc": {m: r["test_acc"] for m, r in payload["results"].items()},
            "train": {m: payload["timings"][f"train_{m}"] for m in ("mlp", "cnn")}}


def mnistlab(seed: int, out: Path, precision: str) -> dict:
    wall, _ = timed([sys.executable, "-m", "mnistlab", "run", "--quiet", "--seed", str(seed), "--precision",
                     precision, "--out", str(out), "--overwrite"])
    models = json.loads((out / "results.json").read_text())["models"]
    train: dict[str, float] = {}
    gflops: dict[str, float] = {}
    for m, r in models.items():
        n_train = sum(r["train_counts"])
        flops = train_flops_per_sample(RunConfig(model=m)) * n_train * r["epochs_run"]
        train[m] = r["train_seconds"]
        gflops[m] = flops / r["train_seconds"] / 1e9
    return {"wall": wall, "acc": {m: r["test_acc"] for m, r in models.items()}, "train": train, "gflops": gflops}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--no-bf16", action="store_true")
    p.add_argument("--json", type=Path, default=None, help="also write every measurement here")
    args = p.parse_args()
    ceiling32, ceiling16 = matmul_ceiling(), matmul_ceiling(torch.bfloat16)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch "
          f"{torch.__version__}, {torch.get_num_threads()} threads")
    print(f"matmul ceiling 2048^3: fp32 {ceiling32:.0f} GFLOP/s, bf16 {ceiling16:.0f} GFLOP/s")
    sides = {"notebook": [], "mnistlab fp32": []} | ({} if args.no_bf16 else {"mnistlab bf16": []})
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.repeats):
            sides["notebook"].append(reference(seed, Path(tmp) / "ref"))
            sides["mnistlab fp32"].append(mnistlab(seed, Path(tmp) / "fp32", "fp32"))
            if not args.no_bf16:
                sides["mnistlab bf16"].append(mnistlab(seed, Path(tmp) / "bf16", "bf16"))
            print(f"  seed {seed}: " + ", ".join(f"{k} {v[-1]['wall']:.2f}s" for k, v in sides.items()), flush=True)
    base = statistics.median(r["wall"] for r in sides["notebook"])
    print(f"\n{'side':15s} {'median s':>9s} {'ratio':>7s} {'MLP acc':>8s} {'CNN acc':>8s} {'MLP train s':>11s} "
          f"{'CNN train s':>11s} {'MLP GFLOP/s':>11s} {'CNN GFLOP/s':>11s}")
    for name, runs in sides.items():
        med = statistics.median(r["wall"] for r in runs)
        acc = {m: statistics.mean(r["acc"][m] for r in runs) for m in ("mlp", "cnn")}
        train = {m: statistics.median(r["train"][m] for r in runs) for m in ("mlp", "cnn")}
        gf = {m: statistics.median(r["gflops"][m] for r in runs) if "gflops" in runs[0] else float("nan")
              for m in ("mlp", "cnn")}
        print(f"{name:15s} {med:9.2f} {base / med:6.1f}x {acc['mlp']:8.4f} {acc['cnn']:8.4f} {train['mlp']:11.2f} "
              f"{train['cnn']:11.2f} {gf['mlp']:11.0f} {gf['cnn']:11.0f}")
    for name in sides:
        if "gflops" in sides[name][0]:
            gf = {m: statistics.median(r["gflops"][m] for r in sides[name]) for m in ("mlp", "cnn")}
            print(f"{name}: training at {100 * gf['mlp'] / ceiling32:.0f}% (MLP) and "
                  f"{100 * gf['cnn'] / ceiling32:.0f}% (CNN) of the fp32 matmul ceiling "
                  "(train FLOPs = 3x forward, per-epoch validation included in time)")
    if args.json:
        args.json.write_text(json.dumps({"ceiling_fp32": ceiling32, "ceiling_bf16": ceiling16, "sides": sides},
                                        indent=1))


if __name__ == "__main__":
    main()
