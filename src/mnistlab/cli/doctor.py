"""`mnistlab doctor`: prints what this machine will use (mnistlab.machine looks; nothing is fetched or written)."""
from __future__ import annotations


def cmd_doctor(args) -> int:
    from mnistlab.api import machine_report

    rows = machine_report()
    if args.ray_address:
        from mnistlab.sweeps.executors.ray_cluster import cluster_report

        rows += cluster_report(args.ray_address)
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("doctor", help="what this machine will use: data, kernels, threads, device, report tools",
                       description="Print what mnistlab will use here: the data cache and whether MNIST is present "
                       "and verified (nothing is fetched), Fashion-MNIST's Debian files, the fused kernels and why "
                       "(not), torch threads, the device, available memory, TeX and Chromium for reports, and the "
                       "versions and code identity every result records. With --ray-address, also the Ray cluster "
                       "there: its nodes, CPUs and GPUs, and whether each node runs this machine's mnistlab and torch "
                       "(a node that differs gets no run of a sweep from here). "
                       "See docs/tutorials/ray-cluster.md.")
    p.add_argument("--ray-address", default=None, metavar="HOST:PORT",
                   help="also survey the Ray cluster whose head is at HOST:PORT (one small task per node, "
                   "at most a minute)")
    p.set_defaults(handler=cmd_doctor)
