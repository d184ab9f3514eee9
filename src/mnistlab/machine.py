"""What this machine will use — data, kernels and why, threads, device, memory, report tools (`mnistlab doctor`).

It only looks: nothing is fetched or written (the fused kernel is built into its cache if a run would build it).
"""
from __future__ import annotations

import os
import platform
import shutil
import sys
from pathlib import Path

TEX = ("latexmk", "pdflatex")
CHROMIUM = ("chromium", "chromium-browser", "google-chrome")


def mnist_state(folder: Path) -> str:
    """Whether the cache holds the four MNIST files, each checked against its published MD5 (no fetching)."""
    from mnistlab.data.loader import find_verified
    from mnistlab.data.mnist import IDX_MD5

    if not folder.is_dir():
        return "not fetched yet (`mnistlab data` fetches it)"
    found, problems = find_verified(folder)
    if len(found) == len(IDX_MD5):
        return "present, all 4 files verified (MD5)"
    missing = sorted(set(IDX_MD5) - set(found))
    detail = f"; {problems[0]}" if problems else ""
    return f"{len(found)} of {len(IDX_MD5)} files verified, missing {', '.join(missing)}{detail}"


def fashion_state() -> str:
    """Whether the Debian package's Fashion-MNIST files lie where it puts them (present, not verified here: doctor
    runs nothing, so not dpkg either)."""
    from mnistlab.data.fashion_mnist import DEBIAN_FOLDER, DEBIAN_PACKAGE, SPEC

    if all((DEBIAN_FOLDER / f"{f.name}.gz").is_file() for f in SPEC.files):
        return f"Debian files present in {DEBIAN_FOLDER}"
    return f"Debian files absent (apt install {DEBIAN_PACKAGE})"


def kernel_state() -> list[tuple[str, str]]:
    from mnistlab.kernels import fused

    details = fused.describe()
    rows = [("kernels", str(details.pop("status")))]
    return rows + [(f"  {key}", str(value)) for key, value in details.items() if value is not None]


def device_state() -> str:
    import torch

    if torch.cuda.is_available():
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        return f"cuda ({', '.join(names)}); --device auto uses it"
    return "cpu (no CUDA device); --device auto uses the CPU"


def memory_state() -> str:
    from mnistlab.runs.memory import available_bytes

    available = available_bytes()
    return "unknown" if available is None else f"~{available / 2**30:.1f} GiB available"


def found(names) -> str:
    paths = [shutil.which(name) for name in names]
    present = [path for path in paths if path]
    return ", ".join(present) if present else "none (" + " / ".join(names) + " not on PATH)"


def report_rows() -> list[tuple[str, str]]:
    import numpy
    import torch

    from mnistlab.data.loader import cache_dir
    from mnistlab.version import code_identity

    cache = cache_dir()
    rows = [("mnistlab", code_identity()),
            ("python", f"{platform.python_version()} ({sys.executable})"),
            ("torch", torch.__version__), ("numpy", numpy.__version__),
            ("data cache", f"{cache} ($MNISTLAB_DATA, else $XDG_CACHE_HOME/mnistlab, else ~/.cache/mnistlab)"),
            ("  MNIST", mnist_state(cache)),
            ("  Fashion-MNIST", fashion_state())]
    rows += kernel_state()
    rows += [("threads", f"{torch.get_num_threads()} torch threads on {os.cpu_count()} CPUs (--threads sets it)"),
             ("device", device_state()),
             ("memory", memory_state()),
             ("report: TeX", found(TEX) + ("" if any(map(shutil.which, TEX)) else "; report.tex is not compiled")),
             ("report: Chromium", found(CHROMIUM))]
    return rows
