"""One GPU check (a few minutes): batched-trainer correctness, throughput for K models, the 100-seed target.

    python benchmarks/gpu_check.py --json gpu_check.json
    python benchmarks/gpu_check.py --smoke            # a tiny version of every step, to check it runs (CPU ok)

1. Correctness: 3 seeds x both models at 100/class, trained together (torch.func vmap) and alone:
   per-model epochs, best epoch and test accuracy must agree (losses within float tolerance).
2. Target: 100 seeds x both models at 300/class with the notebook's early stopping, training time.
3. Throughput: K = 1, 8, 32, 100 models of each architecture at 300/class, 5 epochs without early
   stopping, batched; models x samples x epochs per second and GFLOP/s.
Needs the MNIST cache (`mnistlab data` once, or MNISTLAB_DATA=folder) and a CUDA device; prints each
row as it comes and rewrites the JSON after every step, so a run cut short still reports what it did.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from mnistlab.config import RunConfig  # noqa: E402
from mnistlab.data.mnist import load_mnist  # noqa: E402
from mnistlab.models import train_flops_per_sample  # noqa: E402
from mnistlab.runs.pipeline import DeviceData, environment, finish, train_one  # noqa: E402
from mnistlab.training.stacked import fit_batched  # noqa: E402


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def correctness(data, seeds: int = 3, budget: int = 100) -> list[dict]:
    rows = []
    for model in ("mlp", "cnn"):
        cfgs = [RunConfig(model=model, samples_per_class=budget, seed=s) for s in range(seeds)]
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


def throughput(data, k: int, model: str, precision: str, budget: int = 300) -> dict:
    cfgs = [RunConfig(model=model, samples_per_class=budget, epochs=5, patience=100, seed=s, precision=precision)
            for s in range(k)]
    fit_batched(cfgs[:2], data)  # warm-up (kernels, allocator)
    sync()
    start = time.perf_counter()
    fit_batched(cfgs, data)
    sync()
    seconds = time.perf_counter() - start
    samples = k * int(budget * 10 * 0.8) * 5
    return {"model": model, "K": k, "precision": precision, "seconds": seconds, "model_samples_per_s": samples / seconds,
            "gflops": train_flops_per_sample(cfgs[0]) * samples / seconds / 1e9}


def target(data, precision: str, seeds: int = 100) -> dict:
    out = {"precision": precision, "seeds": seeds}
    total = 0.0
    for model in ("mlp", "cnn"):
        cfgs = [RunConfig(model=model, samples_per_class=300, seed=s, precision=precision) for s in range(seeds)]
        sync()
        start = time.perf_counter()
        trained = fit_batched(cfgs, data)
        sync()
        seconds = time.perf_counter() - start
        total += seconds
        out[model] = {"seconds": seconds, "epochs_mean": sum(f.epochs_run for f, _, _ in trained) / seeds}
    out["total_train_seconds"] = total
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", type=Path, default=Path("gpu_check.json"))
    p.add_argument("--smoke", action="store_true", help="tiny sizes: check that every step runs")
    args = p.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type != "cuda":
        print("warning: no CUDA device; running on CPU (slow, and not the measurement this script is for)")
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32; bf16 rows measure reduced precision
    torch.backends.cudnn.allow_tf32 = False
    data = DeviceData(load_mnist(), device)
    report = {"environment": environment(device), "smoke": args.smoke, "correctness": [], "target": [],
              "throughput": []}
    save = lambda: args.json.write_text(json.dumps(report, indent=1))  # noqa: E731
    for row in correctness(data, *((2, 20) if args.smoke else ())):
        report["correctness"].append(row)
        print("correctness", row, flush=True)
    save()
    for precision in ("fp32", "bf16"):
        t = target(data, precision, 2 if args.smoke else 100)
        report["target"].append(t)
        save()
        print(f"target {t['seeds']} seeds x MLP+CNN at 300/class ({precision}): {t['total_train_seconds']:.1f}s "
              f"of training (MLP {t['mlp']['seconds']:.1f}s, CNN {t['cnn']['seconds']:.1f}s)", flush=True)
    for precision in ("fp32", "bf16"):
        for model in ("mlp", "cnn"):
            for k in ((1, 2) if args.smoke else (1, 8, 32, 100)):
                row = throughput(data, k, model, precision, 20 if args.smoke else 300)
                report["throughput"].append(row)
                save()
                print(f"throughput {model} {precision} K={k:3d}: {row['seconds']:.2f}s, "
                      f"{row['model_samples_per_s']:,.0f} model-samples/s, {row['gflops']:.0f} GFLOP/s", flush=True)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
