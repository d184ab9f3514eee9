"""The default sweep (budgets 50/100/300/1000 x seeds 0-4 x MLP, CNN) vs the notebook once per configuration.

    python benchmarks/bench_sweep.py                      # the whole grid on both sides (~15 min on 2 cores)
    python benchmarks/bench_sweep.py --seeds 0 1          # a smaller grid
    python benchmarks/bench_sweep.py --bf16               # also time `mnistlab sweep --precision bf16`

The reference side runs benchmarks/notebook_reference.py once per (budget, seed): each process trains
both models, as the notebook does. The mnistlab side is one `mnistlab sweep` process (summary and
figures included). Prints both wall times, the ratio, and mean test accuracy per model and budget.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budgets", nargs="+", type=int, default=[50, 100, 300, 1000])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    p.add_argument("--bf16", action="store_true", help="also run the mnistlab sweep with --precision bf16")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    ref_acc, ref_seconds = {}, 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for budget in args.budgets:
            for seed in args.seeds:
                start = time.perf_counter()
                out = subprocess.run([sys.executable, str(HERE / "notebook_reference.py"), "--quiet", "--seed",
                                      str(seed), "--samples-per-class", str(budget), "--out", f"{tmp}/ref"],
                                     capture_output=True, text=True, check=True).stdout
                ref_seconds += time.perf_counter() - start
                for model, r in json.loads(out.strip().splitlines()[-1])["results"].items():
                    ref_acc.setdefault((model, budget), []).append(r["test_acc"])
                print(f"  reference {budget}/class seed {seed}: {time.perf_counter() - start:.1f}s", flush=True)
        ours_seconds, ours_acc = {}, {}
        for precision in ["fp32"] + (["bf16"] if args.bf16 else []):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "mnistlab", "sweep", "--quiet", "--out", f"{tmp}/{precision}",
                            "--budgets", *map(str, args.budgets), "--seeds", *map(str, args.seeds),
                            "--precision", precision], check=True, capture_output=True)
            ours_seconds[precision] = time.perf_counter() - start
            summary = json.loads(Path(f"{tmp}/{precision}/summary.json").read_text())
            ours_acc[precision] = {(a["model"], a["samples_per_class"]): a["test_acc"]["mean"]
                                   for a in summary["aggregates"]}
    print(f"\nnotebook, once per configuration: {ref_seconds:.1f} s ({len(args.budgets) * len(args.seeds)} processes)")
    for precision, seconds in ours_seconds.items():
        print(f"mnistlab sweep {precision} (one process): {seconds:.1f} s   ratio {ref_seconds / seconds:.1f}x")
    print(f"\n{'model':6s} {'budget':>6s} {'notebook acc':>13s} "
          + " ".join(f"{'mnistlab ' + p:>14s}" for p in ours_acc))
    for (model, budget), accs in sorted(ref_acc.items(), key=lambda kv: (kv[0][0] != "mlp", kv[0][1])):
        print(f"{model:6s} {budget:6d} {statistics.mean(accs):13.4f} "
              + " ".join(f"{acc[(model, budget)]:14.4f}" for acc in ours_acc.values()))
    if args.json:
        args.json.write_text(json.dumps({"reference_seconds": ref_seconds, "mnistlab_seconds": ours_seconds,
                                         "reference_acc": {f"{m}@{b}": v for (m, b), v in ref_acc.items()},
                                         "mnistlab_acc": {p: {f"{m}@{b}": v for (m, b), v in acc.items()}
                                                          for p, acc in ours_acc.items()}}, indent=1))

if __name__ == "__main__":
    main()
