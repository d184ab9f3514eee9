"""Any registered dataset, offline-safe: from --data-dir (read only), else the cache, else its sources.

Only the cache (cache_dir(); $MNISTLAB_DATA sets its place) is ever written. Every file is verified by
its MD5 before it is decoded, and no file is read or inflated past the size it must have.
"""
from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from mnistlab.atomic import write_atomic
from mnistlab.data.idx import decode_idx, inflate_bounded, read_bounded
from mnistlab.data.registry import DatasetSpec, get_dataset, list_datasets
from mnistlab.errors import DataError


@dataclass
class LoadedDataset:
    """A whole MNIST-format dataset in memory as uint8 images [N, 28, 28] and int64 labels [N]."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    folder: Path | None
    checksums: dict  # file name -> MD5, as verified
    name: str = "mnist"  # the registered dataset: its spec has class names and normalisation constants

    @property
    def spec(self) -> DatasetSpec:
        return get_dataset(self.name)


def cache_dir() -> Path:
    """$MNISTLAB_DATA, else $XDG_CACHE_HOME/mnistlab, else ~/.cache/mnistlab."""
    if os.environ.get("MNISTLAB_DATA"):
        return Path(os.environ["MNISTLAB_DATA"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "mnistlab"


def dataset_cache(spec: DatasetSpec) -> Path:
    return cache_dir() / spec.cache_subdir if spec.cache_subdir else cache_dir()


# ---------------------------------------------------------------- verified files

def _candidates(folder: Path, spec: DatasetSpec, name: str) -> list[Path]:
    """Where a file may sit: plain or .gz, in the folder or torchvision's <Name>/raw/ below it."""
    out = []
    for sub in (folder, folder / spec.torchvision_dir / "raw"):
        out += [sub / name, sub / f"{name}.gz"]
    return out


def _scan(folder: Path, spec: DatasetSpec) -> tuple[dict[str, bytes], dict[str, list[str]]]:
    """Verified bytes of each file found in `folder`, and per file the problems of the copies that failed."""
    found: dict[str, bytes] = {}
    problems: dict[str, list[str]] = {}
    for f in spec.files:
        for path in _candidates(Path(folder), spec, f.name):
            if not path.is_file():
                continue
            try:
                raw = read_bounded(path, f.size)
            except DataError as e:
                problems.setdefault(f.name, []).append(str(e))
                continue
            got = hashlib.md5(raw).hexdigest()
            if got == f.md5:
                found[f.name] = raw
                break
            problems.setdefault(f.name, []).append(
                f"{path} fails its checksum (MD5 {got}, expected {f.md5}): corrupted or truncated")
    return found, problems


def find_verified(folder: Path, spec: DatasetSpec | str = "mnist") -> tuple[dict[str, bytes], list[str]]:
    """Verified raw bytes of each canonical file found in `folder`, and the problems met."""
    found, problems = _scan(Path(folder), get_dataset(spec))
    return found, [p for name in problems for p in problems[name]]


def _missing(spec: DatasetSpec, found: dict, problems: dict) -> str:
    """One line on what `found` lacks: each bad copy, and the files with no copy at all."""
    lost = [f.name for f in spec.files if f.name not in found]
    parts = [p for name in lost for p in problems.get(name, [])]
    absent = [name for name in lost if name not in problems]
    if absent:
        parts.append(f"no {', '.join(absent)} (plain or .gz)")
    return "; ".join(parts)


def check_files(spec: DatasetSpec, files: dict[str, bytes], origin: str) -> dict[str, bytes]:
    """`files` if it holds every file of `spec` with its MD5; a DataError naming the first that does not."""
    for f in spec.files:
        if f.name not in files:
            raise DataError(f"{origin} gave no {f.name}")
        got = hashlib.md5(files[f.name]).hexdigest()
        if got != f.md5:
            raise DataError(f"{f.name} from {origin} has MD5 {got}, expected {f.md5}")
    return {f.name: files[f.name] for f in spec.files}


def fetch_gz_files(base_url: str, spec: DatasetSpec, log=lambda msg: None) -> dict[str, bytes]:
    """The four .gz files from a mirror: compressed size bounded, published .gz MD5 checked, inflation bounded."""
    import http.client
    import urllib.request

    files = {}
    for f in spec.files:
        url = f"{base_url}{f.name}.gz"
        log(f"downloading {url}")
        limit = f.size + f.size // 64 + 4096  # deflate never grows data by more than this
        try:
            with urllib.request.urlopen(url, timeout=60) as r:  # noqa: S310
                packed = r.read(limit + 1)
        except (OSError, http.client.HTTPException) as e:
            raise DataError(f"{url}: {e}") from None
        if len(packed) > limit:
            raise DataError(f"{url}: more than {limit:,} bytes, too large to be {f.name}.gz")
        if f.gz_md5 and hashlib.md5(packed).hexdigest() != f.gz_md5:
            raise DataError(f"{url}: MD5 {hashlib.md5(packed).hexdigest()}, expected {f.gz_md5}")
        files[f.name] = inflate_bounded(io.BytesIO(packed), f.size, url)
    return files


# ---------------------------------------------------------------- acquisition

def _read_data_dir(spec: DatasetSpec, folder: Path) -> dict[str, bytes]:
    """The user's own folder: verified and read, never written, never filled from elsewhere."""
    if not folder.exists():
        raise DataError(f"--data-dir {folder}: no such folder")
    if not folder.is_dir():
        raise DataError(f"--data-dir {folder}: not a folder")
    found, problems = _scan(folder, spec)
    if len(found) < len(spec.files):
        others = [o for o in list_datasets() if o.name != spec.name and len(_scan(folder, o)[0]) == len(o.files)]
        mixup = "".join(f" (they are {o.label}'s files: --dataset {o.name})" for o in others)
        raise DataError(f"--data-dir {folder}: {_missing(spec, found, problems)}{mixup}. It is only read, never "
                        f"repaired: put the verified {spec.label} files there, or leave out --data-dir to use the "
                        f"cache ({dataset_cache(spec)})")
    return found


def ensure_dataset(name: str | DatasetSpec = "mnist", data_dir: Path | None = None, source: str = "auto",
                   log=lambda msg: None, **options) -> tuple[Path, dict[str, bytes]]:
    """The folder the verified files come from, and their bytes.

    data_dir given: those files only, verified, nothing written. Otherwise source "auto" tries the cache,
    then each source that is not opt-in, in order; a source's name tries only it (refetching into the
    cache). Fetched files are written only into the cache. `options` go to the sources (MNIST's: wheel=).
    """
    spec = get_dataset(name)
    if source not in ("auto", *spec.source_names()):
        raise DataError(f"unknown data source {source!r} for {spec.label}: use auto, {', '.join(spec.source_names())}")
    cache = dataset_cache(spec)
    if data_dir is not None:
        if source != "auto":
            raise DataError(f"--data-dir {data_dir} is only read, so --source {source} has nothing to fetch into: "
                            f"leave out --data-dir to fetch into the cache ({cache})")
        return Path(data_dir), _read_data_dir(spec, Path(data_dir))
    tried = []
    if source == "auto":
        found, problems = _scan(cache, spec)
        if len(found) == len(spec.files):
            return cache, found
        for p in problems.values():
            for line in p:
                log(line)
        tried.append(f"{cache}: {_missing(spec, found, problems)}")
    for src in spec.sources:
        if src.name != source and (source != "auto" or src.opt_in):
            continue
        log(f"{spec.label}: trying {src.describe}")
        try:
            files, folder = src.fetch(spec, log=log, **options)
            files = check_files(spec, files, src.describe)
        except (DataError, OSError) as e:
            tried.append(f"{src.name}: {e}")
            continue
        if folder is not None:
            return Path(folder), files
        try:
            for file_name, raw in files.items():
                write_atomic(cache / file_name, raw)
        except OSError as e:
            raise DataError(f"cannot write {spec.label} to the cache {cache}: {e.strerror or e}; set MNISTLAB_DATA "
                            "to a writable folder, or pass --data-dir with the four files") from None
        return cache, files
    names = ", ".join(f.name for f in spec.files)
    raise DataError(f"could not get {spec.label}. Tried: " + " | ".join(tried) +
                    f". Fix: put the four IDX files ({names}; plain or .gz) in {cache}, or pass --data-dir, "
                    f"or {spec.fix_hint}")


def load_dataset(name: str | DatasetSpec = "mnist", data_dir: Path | None = None, source: str = "auto",
                 log=lambda msg: None, **options) -> LoadedDataset:
    """A verified dataset as uint8 tensors in memory (fetching into the cache when needed)."""
    spec = get_dataset(name)
    folder, found = ensure_dataset(spec, data_dir, source=source, log=log, **options)
    train_x, train_y, test_x, test_y = (torch.from_numpy(decode_idx(found[f.name], f.name).copy()) for f in spec.files)
    return LoadedDataset(train_images=train_x, train_labels=train_y.long(), test_images=test_x,
                         test_labels=test_y.long(), folder=folder, checksums=spec.md5s, name=spec.name)
