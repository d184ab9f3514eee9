"""What recording the last epoch's test accuracy costs: one more test pass, against the whole run.

    python benchmarks/bench_last_epoch.py --seeds 0 1 2

For each model at the notebook's defaults: the run's time (fit + assess, as the pipeline does it) and the
time of one test pass (evaluate on the 10,000 test images), medians over seeds, and their ratio.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
import torch  # noqa: E402

from mnistlab.config import NOTEBOOK_MODELS, RunConfig  # noqa: E402
from mnistlab.data.loader import load_dataset  # noqa: E402
from mnistlab.data.resident import ResidentData  # noqa: E402
from mnistlab.runs.job import Job  # noqa: E402
from mnistlab.runs.pipeline import assess, train  # noqa: E402
from mnistlab.training.solo import evaluate  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--samples-per-class", type=int, default=300)
    args = p.parse_args()
    mnist = load_dataset("mnist")
    data = ResidentData(mnist, torch.device("cpu"))
    for model in NOTEBOOK_MODELS:
        runs, passes = [], []
        for seed in args.seeds:
            job = Job.of(RunConfig(model=model, seed=seed, samples_per_class=args.samples_per_class), mnist.checksums)
            start = time.perf_counter()
            net, fitted, split = train(job, data)
            assess(job, data, net, fitted, split)
            runs.append(time.perf_counter() - start)
            start = time.perf_counter()
            evaluate(net, data.test_x, data.test_y)
            passes.append(time.perf_counter() - start)
        run, one = statistics.median(runs), statistics.median(passes)
        print(f"{model}: run {run:.2f} s, one test pass {one:.3f} s = {100 * one / run:.1f}% of a run "
              f"(medians of {len(args.seeds)} seeds)")


if __name__ == "__main__":
    main()
