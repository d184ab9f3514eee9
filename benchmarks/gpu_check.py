"""One GPU check (a few minutes): batched-trainer correctness, throughput for K models, the 100-seed target.

    python benchmarks/gpu_check.py --json gpu_check.json

1. Correctness: 3 seeds x both models at 100/class, trained together (torch.func vmap) and alone:
   per-model epochs, best epoch and test accuracy must agree (losses within float tolerance).
2. Throughput: K = 1, 8, 32, 100 models of each architecture at 300/class, 5 epochs without early
   stopping, batched; models x samples x epochs per second and GFLOP/s.
3. Target: 100 seeds x both models at 300/class with the notebook's early stopping, training time.
Needs the MNIST cache (`mnistlab data` once) and a CUDA device; prints a table and writes JSON.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from mnistlab.batched import fit_batched  # noqa: E402
from mnistlab.config import RunConfig  # noqa: E402
from mnistlab.data import load_mnist  # noqa: E402
from mnistlab.experiment import DeviceData, environment, finish, train_one  # noqa: E402
from mnistlab.models import train_flops_per_sample  # noqa: E402


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def correctness(data) -> list[dict]:
    rows = []
    for model in ("mlp", "cnn"):
        cfgs = [RunConfig(model=model, samples_per_class=100, seed=s) for s in range(3)]
        for cfg, (fitted, net, train_y) in zip(cfgs, fit_batched(cfgs, data)):
            together = finish(cfg, data, net, fitted, train_y)
            alone, _ = train_one(cfg, data)
            max_rel = max(abs(a - b) / max(abs(b), 1e-8) for a, b in zip(together.history["val_loss"],
                                                                           alone.history["val_loss"]))
            rows.append({"model": model, "seed": cfg.seed, "epochs": (together.epochs_run, alone.epochs_run),
                         "best_epoch": (together.best_epoch, alone.best_epoch),
                         "test_acc": (together.test_acc, alone.test_acc), "val_loss_max_rel_diff": max_rel,
                         "ok": together.epochs_run == alone.epochs_run and abs(together.test_acc - alone.test_acc) < 0.003})
    return rows


def throughput(data, k: int, model: str, precision: str) -> dict:
    cfgs = [RunConfig(model=model, samples_per_class=300, epochs=5, patience=100, seed=s, precision=precision)
            for s in range(k)]
    fit_batched(cfgs[:2], data)  # warm-up (kernels, allocator)
    sync()
    start = time.perf_counter()
    fit_batched(cfgs, data)
    sync()
    seconds = time.perf_counter() - start
    samples = k * 2400 * 5
    return {"model": model, "K": k, "precision": precision, "seconds": seconds, "model_samples_per_s": samples / seconds,
            "gflops": train_flops_per_sample(cfgs[0]) * samples / seconds / 1e9}


def target(data, precision: str) -> dict:
    out = {"precision": precision}
    total = 0.0
    for model in ("mlp", "cnn"):
        cfgs = [RunConfig(model=model, samples_per_class=300, seed=s, precision=precision) for s in range(100)]
        sync()
        start = time.perf_counter()
        trained = fit_batched(cfgs, data)
        sync()
        seconds = time.perf_counter() - start
        total += seconds
        out[model] = {"seconds": seconds, "epochs_mean": sum(f.epochs_run for f, _, _ in trained) / 100}
    out["total_train_seconds"] = total
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", type=Path, default=Path("gpu_check.json"))
    args = p.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type != "cuda":
        print("warning: no CUDA device; running on CPU (slow, and not the measurement this script is for)")
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32; bf16 rows measure reduced precision
    torch.backends.cudnn.allow_tf32 = False
    data = DeviceData(load_mnist(), device)
    report = {"environment": environment(device), "correctness": correctness(data)}
    for row in report["correctness"]:
        print("correctness", row)
    report["throughput"] = []
    for precision in ("fp32", "bf16"):
        for model in ("mlp", "cnn"):
            for k in (1, 8, 32, 100):
                row = throughput(data, k, model, precision)
                report["throughput"].append(row)
                print(f"throughput {model} {precision} K={k:3d}: {row['seconds']:.2f}s, "
                      f"{row['model_samples_per_s']:,.0f} model-samples/s, {row['gflops']:.0f} GFLOP/s", flush=True)
    report["target"] = [target(data, "fp32"), target(data, "bf16")]
    for t in report["target"]:
        print(f"target 100 seeds x MLP+CNN at 300/class ({t['precision']}): {t['total_train_seconds']:.1f}s of training")
    args.json.write_text(json.dumps(report, indent=1))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
