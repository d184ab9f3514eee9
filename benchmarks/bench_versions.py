"""Two versions of mnistlab side by side: is the newer one slower? Whole `mnistlab run` and `mnistlab sweep`.

    git worktree add /tmp/mnistlab-before <commit>          # the version to compare against
    python benchmarks/bench_versions.py --before /tmp/mnistlab-before --pairs 5
    python benchmarks/bench_versions.py --before /tmp/mnistlab-before --pairs 5 --sweep-budgets 50 100 --sweep-seeds 0 1

Each pair runs the same command once with each version's src/ on PYTHONPATH, in alternating order (A B,
then B A, ...), so drift in the machine's speed falls on both. Prints medians and after/before ratios.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def command(src: Path) -> list[str]:
    """How a checkout's CLI starts: `python -m mnistlab`, or the entry point of releases without a __main__."""
    if (src / "mnistlab" / "__main__.py").is_file():
        return [sys.executable, "-m", "mnistlab"]
    return [sys.executable, "-c", "import sys; from mnistlab.cli import entry; sys.argv[0] = 'mnistlab'; entry()"]


def timed(src: Path, args: list[str]) -> float:
    env = {**os.environ, "PYTHONPATH": str(src)}
    start = time.perf_counter()
    proc = subprocess.run([*command(src), *args], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{src}: mnistlab {' '.join(args)} failed:\n{proc.stderr[-2000:]}")
    return time.perf_counter() - start


def compare(name: str, sides: dict[str, Path], make_args, pairs: int) -> None:
    times: dict[str, list[float]] = {k: [] for k in sides}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(pairs):
            order = list(sides) if i % 2 == 0 else list(reversed(sides))
            for side in order:
                times[side].append(timed(sides[side], make_args(Path(tmp) / f"{side}{i}", i)))
            print(f"  {name} pair {i}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in times.items()), flush=True)
    before, after = (statistics.median(times[k]) for k in ("before", "after"))
    ratio = statistics.median(a / b for a, b in zip(times["after"], times["before"], strict=True))
    print(f"{name}: before {before:.2f} s, after {after:.2f} s (medians of {pairs}); after/before "
          f"{after / before:.3f}; median of the per-pair ratios {ratio:.3f}")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--before", type=Path, required=True, help="a checkout (e.g. a git worktree) of the older version")
    p.add_argument("--pairs", type=int, default=5)
    p.add_argument("--sweep-budgets", nargs="+", default=["50", "100", "300", "1000"])
    p.add_argument("--sweep-seeds", nargs="+", default=["0", "1", "2", "3", "4"])
    p.add_argument("--skip-sweep", action="store_true")
    p.add_argument("--skip-run", action="store_true")
    args = p.parse_args()
    sides = {"before": args.before.resolve() / "src", "after": HERE.parent / "src"}
    if not args.skip_run:
        compare("run", sides, lambda out, i: ["run", "--quiet", "--seed", str(i), "--out", str(out)],
                args.pairs)
    if not args.skip_sweep:
        compare("sweep", sides, lambda out, i: ["sweep", "--quiet", "--out", str(out), "--budgets", *args.sweep_budgets,
                                                "--seeds", *args.sweep_seeds], args.pairs)


if __name__ == "__main__":
    main()
