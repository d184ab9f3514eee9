"""How many digits a label-free selection rule's picks cover, per seed: no training, the labels read only to count.

    python benchmarks/selection_coverage.py                                   # central-tsne, ward-tsne; seeds 5-9
    python benchmarks/selection_coverage.py --rules typical ward-tsne --seeds 100-104 --counts 10 20

Each seed's t-SNE map of the 60,000 MNIST training images is drawn once (about 100-150 s on 2 cores) and shared by
the rules on it. Prints one line per (seed, rule, count): the digits covered and the picks per digit.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
from mnistlab.cli.sweep import parse_int_list  # noqa: E402
from mnistlab.data.loader import load_dataset  # noqa: E402
from mnistlab.selection.catalog import get_rule, select  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rules", nargs="+", default=["central-tsne", "ward-tsne"], help="rules to count")
    parser.add_argument("--seeds", nargs="+", default=["5-9"], help="seeds, e.g. 5-9 or 0 1 2")
    parser.add_argument("--counts", nargs="+", type=int, default=[10, 20], help="images picked (10 = 1 per class)")
    parser.add_argument("--dataset", default="mnist")
    args = parser.parse_args()
    for rule in args.rules:
        get_rule(rule)  # an unknown rule is one line before any map is drawn
    data = load_dataset(args.dataset)
    images, labels = data.train_images.numpy(), data.train_labels.numpy()
    classes = int(labels.max()) + 1
    for seed in parse_int_list(args.seeds, "--seeds") or []:
        for rule in args.rules:
            for count in args.counts:
                start = time.perf_counter()
                picked = select(rule, images, count, seed)
                per_digit = np.bincount(labels[picked], minlength=classes).tolist()
                print(f"seed {seed} {rule} {count} picks: {len(set(labels[picked].tolist()))} of {classes} digits "
                      f"{per_digit} ({time.perf_counter() - start:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
