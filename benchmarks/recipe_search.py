"""Candidate recipes compared on VALIDATION accuracy only, on seeds kept apart from the reported ones.

    python benchmarks/recipe_search.py --budgets 10 100 --seeds 100 101 --models cnn
    python benchmarks/recipe_search.py --budgets 100 --candidates best best-rotate10 --seeds 100 101 102

Each candidate is `--recipe best` with some fields changed (CANDIDATES below). The test set is never
evaluated for a choice: this script prints the best validation accuracy (mean over seeds) and the
training time per run. What was chosen, and the ablation of its ingredients, is in docs/results.md.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
import torch  # noqa: E402

from mnistlab.config import RECIPES, RunConfig  # noqa: E402
from mnistlab.data.loader import load_dataset  # noqa: E402
from mnistlab.data.resident import ResidentData  # noqa: E402
from mnistlab.models.registry import build_model  # noqa: E402
from mnistlab.training.solo import fit  # noqa: E402

BEST = RECIPES["best"]
CANDIDATES = {
    "plain": {},
    "best": BEST,
    "best+long": {**BEST, "epochs": 400, "patience": 80},
    "best+batch32": {**BEST, "batch_size": 32},
    "best-rotate10": {**BEST, "rotate": 10.0},
    "best+shift3": {**BEST, "shift": 3.0, "scale": 0.15},
    "best+dropout0.4": {**BEST, "dropout": 0.4},
    "best+wd5e-3": {**BEST, "weight_decay": 5e-3},
    "best-lr1e-3": {**BEST, "lr": 1e-3},
    "best-r10-lr1e-3": {**BEST, "rotate": 10.0, "lr": 1e-3},
}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budgets", nargs="+", type=int, default=[10, 100])
    p.add_argument("--seeds", nargs="+", type=int, default=[100, 101])
    p.add_argument("--models", nargs="+", default=["cnn"])
    p.add_argument("--candidates", nargs="+", default=list(CANDIDATES), choices=list(CANDIDATES))
    args = p.parse_args()
    data = ResidentData(load_dataset("mnist"), torch.device("cpu"))
    for budget in args.budgets:
        for model in args.models:
            for name in args.candidates:
                accs, secs = [], []
                for seed in args.seeds:
                    cfg = RunConfig(model=model, samples_per_class=budget, seed=seed, **CANDIDATES[name])
                    net = build_model(cfg)
                    start = time.perf_counter()
                    result = fit(net, data.split(cfg), cfg)
                    secs.append(time.perf_counter() - start)
                    accs.append(max(v for v in result.history["val_acc"] if v is not None))
                print(f"{model} {budget:>5}/class {name:>16}: best val acc {100 * statistics.mean(accs):6.2f}% "
                      f"(seeds {args.seeds}: {', '.join(f'{100 * a:.1f}' for a in accs)}), "
                      f"{statistics.mean(secs):6.1f} s/run", flush=True)


if __name__ == "__main__":
    main()
