"""A default `mnistlab run` alone and beside one busy 2-thread training, with OpenMP's default waiting and passive.

    python benchmarks/bench_wait.py --pairs 3 --busy-pairs 2

OpenMP threads spin for a while when idle, waiting for the next parallel region (libgomp's default). On a machine
another process keeps busy, the spinning threads take cores that process needs and it takes theirs: both slow.
`OMP_WAIT_POLICY=PASSIVE` makes idle threads sleep at once. Each pair runs the two settings one after the other
(order alternating), as separate processes; the busy neighbour is a torch training loop on 2 threads with
OpenMP's defaults, started before and stopped after each measured run. Prints the medians and the ratios.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUSY = """
import torch
torch.set_num_threads(2)
net = torch.nn.Sequential(torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                          torch.nn.Linear(16 * 28 * 28, 10))
opt = torch.optim.Adam(net.parameters())
x, y = torch.randn(128, 1, 28, 28), torch.randint(10, (128,))
while True:
    opt.zero_grad()
    torch.nn.functional.cross_entropy(net(x), y).backward()
    opt.step()
"""


def run_once(policy: str | None, out: Path) -> float:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if policy:
        env["OMP_WAIT_POLICY"] = policy
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "mnistlab", "run", "--quiet", "--out", str(out), "--overwrite"],
                          env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"mnistlab run failed:\n{proc.stderr[-2000:]}")
    return wall


def measured(pairs: int, busy: bool, out: Path) -> dict[str, list[float]]:
    sides: dict[str, list[float]] = {"default": [], "PASSIVE": []}
    for i in range(pairs):
        order = ["default", "PASSIVE"] if i % 2 == 0 else ["PASSIVE", "default"]
        for side in order:
            neighbour = None
            if busy:
                env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
                neighbour = subprocess.Popen([sys.executable, "-c", BUSY], env=env)
                time.sleep(3)  # torch imported, the loop running
            try:
                sides[side].append(run_once(None if side == "default" else side, out))
            finally:
                if neighbour is not None:
                    neighbour.kill()
                    neighbour.wait(timeout=30)
        print(f"  {'busy' if busy else 'alone'} pair {i}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in sides.items()),
              flush=True)
    return sides


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pairs", type=int, default=3, help="alternated pairs alone (default 3)")
    p.add_argument("--busy-pairs", type=int, default=2, help="alternated pairs beside the busy process (default 2)")
    args = p.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        results = {"alone": measured(args.pairs, False, Path(tmp) / "run")}
        if args.busy_pairs:
            results["beside a busy 2-thread training"] = measured(args.busy_pairs, True, Path(tmp) / "run")
    for where, sides in results.items():
        default, passive = (statistics.median(sides[k]) for k in ("default", "PASSIVE"))
        print(f"{where}: default {default:.2f} s, PASSIVE {passive:.2f} s (median of {len(sides['default'])}); "
              f"PASSIVE/default = {passive / default:.3f}")


if __name__ == "__main__":
    main()
