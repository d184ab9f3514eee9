"""The datasets mnistlab knows. Each is one module of this package defining `SPEC`, listed in DATASET_MODULES.

Every dataset is in MNIST's format: four IDX files (train/test images and labels, 28x28 uint8), each
verified by the MD5 of its uncompressed bytes before anything reads it.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from mnistlab.errors import DataError

# name (what --dataset takes) -> module defining SPEC; a new MNIST-format dataset is one module and one line here.
DATASET_MODULES = {
    "mnist": "mnistlab.data.mnist",
    "fashion-mnist": "mnistlab.data.fashion_mnist",
}


@dataclass(frozen=True)
class DataFile:
    """One canonical IDX file: its name, the MD5 and size of its uncompressed bytes, and its published .gz MD5."""

    name: str
    md5: str
    size: int
    gz_md5: str | None = None


@dataclass(frozen=True)
class Source:
    """Where a dataset can come from when the cache lacks it.

    fetch(spec, log=..., **options) returns (files, folder): the raw bytes of the four files, and the folder
    they were read from when they are used where they lie (nothing written), or None when they belong in
    the cache. opt_in sources are tried only when named (`--source NAME`), never by "auto".
    """

    name: str
    describe: str
    fetch: Callable
    opt_in: bool = False


@dataclass(frozen=True)
class DatasetSpec:
    name: str                             # what --dataset takes: "mnist", "fashion-mnist"
    label: str                            # for people: "MNIST", "Fashion-MNIST"
    classes_en: tuple[str, ...]
    classes_pt: tuple[str, ...]
    mean: float                           # of pixel/255 over the training images, for normalize()
    std: float
    train_class_counts: tuple[int, ...]   # training images per class, class 0 first
    files: tuple[DataFile, ...]           # train images, train labels, test images, test labels
    sources: tuple[Source, ...]           # tried in order after the cache
    cache_subdir: str                     # below cache_dir(); "" is the cache itself
    torchvision_dir: str                  # torchvision's layout: <folder>/<this>/raw/
    fix_hint: str                         # the last resort a failed fetch suggests
    input_shape: tuple[int, int, int] = (1, 28, 28)  # one image as a model reads it: every dataset here is MNIST-format

    @property
    def num_classes(self) -> int:
        return len(self.train_class_counts)

    @property
    def max_per_class(self) -> int:
        """The largest balanced per-class budget: the smallest class's training count."""
        return min(self.train_class_counts)

    @property
    def md5s(self) -> dict[str, str]:
        return {f.name: f.md5 for f in self.files}

    def class_names(self, lang: str = "pt") -> tuple[str, ...]:
        return self.classes_pt if lang == "pt" else self.classes_en

    def source_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.sources)


def get_dataset(name: str | DatasetSpec) -> DatasetSpec:
    """The spec registered under `name`; an unknown name is a one-line DataError listing the known ones."""
    if isinstance(name, DatasetSpec):
        return name
    if name not in DATASET_MODULES:
        raise DataError(f"unknown dataset {name!r}: use one of {', '.join(DATASET_MODULES)}")
    return importlib.import_module(DATASET_MODULES[name]).SPEC


def list_datasets() -> list[DatasetSpec]:
    """Every registered dataset, MNIST (the default) first."""
    return [get_dataset(name) for name in DATASET_MODULES]
