"""Semi-supervised settings compared on a held-out VALIDATION set only, on seeds kept apart from the reported ones.

    python benchmarks/semi_search.py --candidates default lr3e-3-cosine --seeds 100 101 --budget 10
    python benchmarks/semi_search.py --method pseudolabel --candidates default --seeds 100

Protocol (the papers' custom, used during this search only): 10,000 labelled training images, drawn once with a
fixed seed, are held out as a validation set and kept out of both the labelled draw and the unlabelled pool; the
labelled subset and the pool come from the other 50,000. The test set is never evaluated here. Reported runs
(`mnistlab run --unlabeled all`, `mnistlab sweep --study semi`) never see this split: they use the full training
set and are measured on the test set. Each candidate is the method's defaults with some settings changed
(CANDIDATES below); the script prints the final validation accuracy per seed and the wall time per run.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
import torch  # noqa: E402

from mnistlab.config import RunConfig  # noqa: E402
from mnistlab.data.loader import load_dataset  # noqa: E402
from mnistlab.data.resident import ResidentData  # noqa: E402
from mnistlab.models.registry import build_model  # noqa: E402
from mnistlab.runs.job import RunPlan  # noqa: E402
from mnistlab.training.semi.loop import fit_semi  # noqa: E402
from mnistlab.training.solo import evaluate  # noqa: E402

HOLDOUT, HOLDOUT_SEED = 10_000, 20_151_116
# name: (RunConfig fields, method options)
CANDIDATES: dict[str, tuple[dict, str]] = {
    "default": ({}, ""),
    "lr3e-3-cosine": ({"lr": 3e-3, "schedule": "cosine"}, ""),
    "cosine": ({"schedule": "cosine"}, ""),
    "uratio7-batch64": ({"batch_size": 64}, "uratio=7"),
    "threshold0.9": ({}, "threshold=0.9"),
    "steps5000": ({"steps": 5000}, ""),
    "ema0.99": ({}, "ema=0.99"),
    "lambda2": ({}, "lambda_u=2"),
    "teacher-align-cut8": ({}, "teacher=1,align=1,cutout=8"),
    "align-cut8": ({}, "align=1,cutout=8"),
    "align-cut8-u7b64": ({"batch_size": 64}, "align=1,cutout=8,uratio=7"),
    "align-cut8-6000": ({"steps": 6000}, "align=1,cutout=8"),
    "align": ({}, "align=1"),
    "steps6000": ({"steps": 6000}, ""),
    "steps6000-cosine": ({"steps": 6000, "schedule": "cosine"}, ""),
    "joint": ({}, "joint=1"),
}


def held_out(mnist):
    """The dataset with 10,000 training images moved to the place of the test set (the validation set)."""
    order = torch.randperm(len(mnist.train_labels), generator=torch.Generator().manual_seed(HOLDOUT_SEED))
    keep, out = order[HOLDOUT:].sort().values, order[:HOLDOUT]
    return replace(mnist, train_images=mnist.train_images[keep], train_labels=mnist.train_labels[keep],
                   test_images=mnist.train_images[out], test_labels=mnist.train_labels[out])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget", type=int, default=10, help="labelled images per class (default 10)")
    p.add_argument("--seeds", nargs="+", type=int, default=[100, 101, 102, 103, 104])
    p.add_argument("--models", nargs="+", default=["cnn"])
    p.add_argument("--method", default="fixmatch")
    p.add_argument("--candidates", nargs="+", default=list(CANDIDATES), choices=list(CANDIDATES))
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    data = ResidentData(held_out(load_dataset("mnist")), torch.device("cpu"))
    pool = len(data.mnist.train_labels) - 10 * args.budget
    for model in args.models:
        for name in args.candidates:
            fields, options = CANDIDATES[name]
            accs, secs = [], []
            for seed in args.seeds:
                cfg = RunConfig(model=model, samples_per_class=args.budget, seed=seed, early_stopping=False,
                                unlabeled=pool, semi_method=args.method, semi_options=options, **fields)
                net = build_model(cfg)
                start = time.perf_counter()
                plan = RunPlan.of(cfg)
                fit_semi(net, data.split(cfg), cfg, plan.method, plan.settings)
                secs.append(time.perf_counter() - start)
                accs.append(evaluate(net, data.test_x, data.test_y)[1])
                print(f"  {model} {name} seed {seed}: val acc {100 * accs[-1]:.2f}% in {secs[-1]:.0f} s", flush=True)
            print(f"{model} {args.budget}/class {args.method} {name:>16}: val acc {100 * statistics.mean(accs):6.2f}% "
                  f"(seeds {args.seeds}), {statistics.mean(secs):6.1f} s/run", flush=True)


if __name__ == "__main__":
    main()
