"""What losing a Ray node mid-sweep costs: the same sweep on two nodes, undisturbed and with the worker node lost.

    python benchmarks/ray_node_loss.py             # 3 alternated pairs; Linux, as root (network namespaces)

It builds the two nodes exactly as tests/test_ray_nodes.py does (a network namespace each, a veth pair between
them, one CPU per node) and runs 18 runs (budgets 10, 20, 50 x seeds 0-2 x MLP and CNN, 3 epochs, one thread,
one CPU per run) through them. In the disturbed sweep every process of the worker node is killed while it runs
a task, once it has stored one. Prints each sweep's wall time, when the node was lost, and whether every run
was stored once; everything it made is removed at the end.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=3, help="alternated (undisturbed, node lost) pairs")
    args = parser.parse_args()
    sys.path.insert(0, str(TESTS))
    import test_ray_nodes as nodes  # the test's own cluster, so that the figure is of what the test runs

    why = nodes._why_not()
    if why:
        print(f"cannot build the nodes here: {why}", file=sys.stderr)
        return 2
    grid = ["sweep", "--budgets", "10", "20", "50", "--seeds", "0-2", "--epochs", "3", "--threads", "1", "--quiet",
            "--no-summary", "--executor", "ray", "--ray-address", nodes.ADDRESS, "--cpus-per-run", "1"]
    cluster, out = nodes.Cluster("b"), Path(tempfile.mkdtemp(prefix="mlloss"))
    try:
        cluster.build()
        cluster.start_head()
        for pair in range(args.pairs):
            for lose in (False, True):
                cluster.start_worker(cpus=1, unseen=[])
                folder = out / f"{pair}-{int(lose)}"
                start, lost_at = time.time(), None
                sweep = nodes._in_head(cluster, [*grid, "--out", str(folder)])
                while sweep.poll() is None:
                    if lose and lost_at is None and cluster.worker_busy() and len(set(_stored(nodes, folder))) == 2:
                        cluster.kill_worker()
                        lost_at = time.time() - start
                    time.sleep(0.05)
                sweep.communicate()
                wall, stored = time.time() - start, _stored(nodes, folder)
                lost = f"node lost at {lost_at:.1f} s" if lost_at else "undisturbed"
                print(f"pair {pair}: {lost:<22} {wall:6.2f} s  exit {sweep.returncode}  {len(stored)} runs stored "
                      f"from {len(set(stored))} nodes", flush=True)
                if not lose:
                    cluster.kill_worker()
    finally:
        cluster.stop()
        shutil.rmtree(out, ignore_errors=True)
    return 0


def _stored(nodes, folder: Path) -> list[str]:
    try:
        return nodes._nodes(folder)
    except Exception:  # noqa: BLE001 - the store is not there yet
        return []


if __name__ == "__main__":
    sys.exit(main())
