"""One GPU check (a few minutes): stacked-trainer correctness, the 100-seed target, throughput for K models.

    python benchmarks/gpu_check.py --json gpu_check.json
    python benchmarks/gpu_check.py --dry-run --device cpu --json /tmp/dry.json   # every check, tiny, on the CPU

1. Correctness: 3 seeds x both models at 100/class, trained together (torch.func vmap, training.stacked)
   and alone (the pipeline every executor uses): per-model epochs and test accuracy must agree.
2. Target: 100 seeds x both models at 300/class with the notebook's early stopping, training time.
3. Throughput: K = 1, 8, 32, 100 models of each architecture at 300/class, 5 epochs without early
   stopping, stacked; model-samples per second and GFLOP/s.
--dry-run runs each of them at a tiny size (2 seeds, 10/class, 2 epochs, K = 2, fp32, 500 test images): proof
that the script works, before the long run. Needs the MNIST cache (`mnistlab data` once, or
MNISTLAB_DATA=folder). Prints each row as it comes and rewrites the JSON after every step, so a run cut
short still reports what it did. Exit status 1 when a correctness row disagrees.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from mnistlab.config import NOTEBOOK_MODELS, RunConfig  # noqa: E402
from mnistlab.data.loader import load_dataset  # noqa: E402
from mnistlab.data.resident import ResidentData  # noqa: E402
from mnistlab.models.registry import build_model, train_flops_per_sample  # noqa: E402
from mnistlab.runs.job import Job  # noqa: E402
from mnistlab.runs.outcome import environment  # noqa: E402
from mnistlab.runs.pipeline import assess, execute  # noqa: E402
from mnistlab.training.device import resolve_device  # noqa: E402
from mnistlab.training.stacked import fit_stacked  # noqa: E402


@dataclass(frozen=True)
class Sizes:
    correctness_seeds: int = 3
    correctness_budget: int = 100
    target_seeds: int = 100
    budget: int = 300
    ks: tuple[int, ...] = (1, 8, 32, 100)
    precisions: tuple[str, ...] = ("fp32", "bf16")
    throughput_epochs: int = 5
    max_epochs: int | None = None  # None: the config's default, early stopping decides
    test_images: int | None = None  # None: the whole test set


FULL = Sizes()
DRY = Sizes(correctness_seeds=2, correctness_budget=10, target_seeds=2, budget=10, ks=(2,), precisions=("fp32",),
            throughput_epochs=2, max_epochs=2, test_images=500)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def config(sizes: Sizes, **fields) -> RunConfig:
    values: dict[str, Any] = {"epochs": sizes.max_epochs} if sizes.max_epochs else {}
    return RunConfig(**values, **fields)


def train_stacked(cfgs: list[RunConfig], data: ResidentData):
    """Jobs, models, fits and splits of configs that differ only in seed, trained together."""
    jobs = [Job.of(cfg, data.mnist.checksums) for cfg in cfgs]
    splits = [data.split(job.config) for job in jobs]
    models = [build_model(job.config).to(data.device) for job in jobs]
    return jobs, models, fit_stacked(models, splits, [job.config for job in jobs]), splits


def correctness(data: ResidentData, sizes: Sizes) -> list[dict]:
    rows = []
    for model in NOTEBOOK_MODELS:
        cfgs = [config(sizes, model=model, samples_per_class=sizes.correctness_budget, seed=s)
                for s in range(sizes.correctness_seeds)]
        for job, net, fitted, split in zip(*train_stacked(cfgs, data)):
            together = assess(job, data, net, fitted, split)
            alone = execute(job, data, {}).result
            assert alone is not None
            max_rel = max(abs(a - b) / max(abs(b), 1e-8) for a, b in zip(together.history["val_loss"],
                                                                           alone.history["val_loss"]))
            rows.append({"model": model, "seed": job.config.seed, "epochs": (together.epochs_run, alone.epochs_run),
                         "best_epoch": (together.best_epoch, alone.best_epoch),
                         "test_acc": (together.test_acc, alone.test_acc), "val_loss_max_rel_diff": max_rel,
                         "ok": (together.epochs_run == alone.epochs_run
                                and abs(together.test_acc - alone.test_acc) < 0.003)})
    return rows


def target(data: ResidentData, sizes: Sizes, precision: str) -> dict:
    out: dict = {"precision": precision, "seeds": sizes.target_seeds, "samples_per_class": sizes.budget}
    total = 0.0
    for model in NOTEBOOK_MODELS:
        cfgs = [config(sizes, model=model, samples_per_class=sizes.budget, seed=s, precision=precision)
                for s in range(sizes.target_seeds)]
        sync(data.device)
        start = time.perf_counter()
        fits = train_stacked(cfgs, data)[2]
        sync(data.device)
        seconds = time.perf_counter() - start
        total += seconds
        out[model] = {"seconds": seconds, "epochs_mean": sum(f.epochs_run for f in fits) / len(fits)}
    out["total_train_seconds"] = total
    return out


def throughput(data: ResidentData, sizes: Sizes, k: int, model: str, precision: str) -> dict:
    epochs = sizes.throughput_epochs
    cfgs = [RunConfig(model=model, samples_per_class=sizes.budget, epochs=epochs, patience=100, seed=s,
                      precision=precision) for s in range(k)]
    train_stacked(cfgs[:2], data)  # warm-up (kernels, allocator)
    sync(data.device)
    start = time.perf_counter()
    train_stacked(cfgs, data)
    sync(data.device)
    seconds = time.perf_counter() - start
    samples = k * len(data.split(cfgs[0]).train_y) * epochs
    return {"model": model, "K": k, "precision": precision, "seconds": seconds,
            "model_samples_per_s": samples / seconds,
            "gflops": train_flops_per_sample(cfgs[0]) * samples / seconds / 1e9}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", type=Path, default=Path("gpu_check.json"), help="where the report is written")
    p.add_argument("--dry-run", action="store_true", help="every check at a tiny size: proves the script runs")
    p.add_argument("--device", default="auto", choices=["auto", "cuda", "cpu"],
                   help="auto: the GPU if there is one (default)")
    args = p.parse_args(argv)
    device = resolve_device(args.device)
    sizes = DRY if args.dry_run else FULL
    if device.type != "cuda" and not args.dry_run:
        print("warning: no CUDA device; running on the CPU (slow, and not the measurement this script is for)")
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32; bf16 rows measure reduced precision
    torch.backends.cudnn.allow_tf32 = False
    data = ResidentData(load_dataset("mnist"), device)
    if sizes.test_images:  # evaluation dominates a tiny run: a dry run tests on a slice
        data.test_raw, data.test_x, data.test_y = (t[:sizes.test_images] for t in (data.test_raw, data.test_x,
                                                                                    data.test_y))
    report: dict = {"environment": environment(device), "dry_run": args.dry_run, "correctness": [], "target": [],
                    "throughput": []}

    def save() -> None:
        args.json.write_text(json.dumps(report, indent=1))

    for row in correctness(data, sizes):
        report["correctness"].append(row)
        print("correctness", row, flush=True)
    save()
    for precision in sizes.precisions:
        t = target(data, sizes, precision)
        report["target"].append(t)
        save()
        print(f"target {t['seeds']} seeds x MLP+CNN at {sizes.budget}/class ({precision}): "
              f"{t['total_train_seconds']:.1f}s of training (MLP {t['mlp']['seconds']:.1f}s, "
              f"CNN {t['cnn']['seconds']:.1f}s)", flush=True)
    for precision in sizes.precisions:
        for model in NOTEBOOK_MODELS:
            for k in sizes.ks:
                row = throughput(data, sizes, k, model, precision)
                report["throughput"].append(row)
                save()
                print(f"throughput {model} {precision} K={k:3d}: {row['seconds']:.2f}s, "
                      f"{row['model_samples_per_s']:,.0f} model-samples/s, {row['gflops']:.0f} GFLOP/s", flush=True)
    print(f"wrote {args.json}")
    disagree = [r for r in report["correctness"] if not r["ok"]]
    if disagree:
        print(f"FAILED: {len(disagree)} correctness row(s) disagree: stacked and solo training differ")
    return 1 if disagree else 0


if __name__ == "__main__":
    sys.exit(main())
