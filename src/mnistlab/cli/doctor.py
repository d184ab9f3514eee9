"""`mnistlab doctor`: prints what this machine will use (mnistlab.machine looks; nothing is fetched or written)."""
from __future__ import annotations


def cmd_doctor(args) -> int:
    from mnistlab.api import machine_report

    rows = machine_report()
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("doctor", help="what this machine will use: data, kernels, threads, device, report tools",
                       description="Print what mnistlab will use here: the data cache and whether MNIST is present "
                       "and verified (nothing is fetched), Fashion-MNIST's Debian files, the fused kernels and why "
                       "(not), torch threads, the device, available memory, TeX and Chromium for reports, and the "
                       "versions and code identity every result records.")
    p.set_defaults(handler=cmd_doctor)
