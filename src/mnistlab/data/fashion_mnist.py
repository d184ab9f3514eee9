"""Fashion-MNIST (Zalando Research, MIT licence): its spec and sources, Debian's package, and a mirror on request.

Debian's dataset-fashion-mnist installs the four .gz files (recompressed, so they are verified by the MD5
of their uncompressed bytes); they are read where they lie, never copied. Zalando's own download is
used only with an explicit `--source mirror`, and lands in the cache.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from mnistlab.data.loader import fetch_gz_files, find_verified
from mnistlab.data.registry import DataFile, DatasetSpec, Source
from mnistlab.errors import DataError

DEBIAN_PACKAGE = "dataset-fashion-mnist"
DEBIAN_FOLDER = Path("/usr/share/datasets/fashion-mnist")  # where the package puts them
MIRROR_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"  # Zalando's own; opt-in only


def debian_folders() -> list[Path]:
    """Folders holding the Debian package's files: as `dpkg -L` lists them, else the package's known path."""
    folders = []
    dpkg = shutil.which("dpkg")
    if dpkg:
        try:
            listing = subprocess.run([dpkg, "-L", DEBIAN_PACKAGE], capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.SubprocessError):
            listing = None
        if listing is not None and listing.returncode == 0:
            folders += [Path(line).parent for line in listing.stdout.splitlines()
                        if Path(line).name == "train-images-idx3-ubyte.gz"]
    if DEBIAN_FOLDER not in folders:
        folders.append(DEBIAN_FOLDER)
    return [folder for folder in folders if folder.is_dir()]


def _debian_source(spec, log=lambda msg: None, **_):
    folders = debian_folders()
    if not folders:
        raise DataError(f"Debian's {DEBIAN_PACKAGE} is not installed (apt-get install {DEBIAN_PACKAGE})")
    problems = []
    for folder in folders:
        found, bad = find_verified(folder, spec)
        if len(found) == len(spec.files):
            log(f"Fashion-MNIST from Debian's {DEBIAN_PACKAGE} in {folder}")
            return found, folder
        problems += bad or [f"{folder}: lacks {', '.join(f.name for f in spec.files if f.name not in found)}"]
    raise DataError("; ".join(problems))


def _mirror_source(spec, log=lambda msg: None, **_):
    log(f"downloading Fashion-MNIST from {MIRROR_URL} (explicit opt-in)")
    return fetch_gz_files(MIRROR_URL, spec, log), None


SPEC = DatasetSpec(
    name="fashion-mnist",
    label="Fashion-MNIST",
    classes_en=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    classes_pt=("Camiseta/top", "Calça", "Pulôver", "Vestido", "Casaco",
                "Sandália", "Camisa", "Tênis", "Bolsa", "Bota de cano curto"),
    # Measured over all 47,040,000 training pixels as pixel/255 in float64 (population std):
    # mean 0.2860405969887955, std 0.35302424451492254; rounded as MNIST's notebook constants are.
    mean=0.2860,
    std=0.3530,
    train_class_counts=(6000,) * 10,
    files=(
        DataFile("train-images-idx3-ubyte", "f4a8712d7a061bf5bd6d2ca38dc4d50a", 47_040_016,
                 "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        DataFile("train-labels-idx1-ubyte", "9018921c3c673c538a1fc5bad174d6f9", 60_008,
                 "25c81989df183df01b3e8a0aad5dffbe"),
        DataFile("t10k-images-idx3-ubyte", "8181f5470baa50b63fa0f6fddb340f0a", 7_840_016,
                 "bef4ecab320f06d8554ea6380940ec79"),
        DataFile("t10k-labels-idx1-ubyte", "15d484375f8d13e6eb1aabb0c3f46965", 10_008,
                 "bb300cfdad3c16e7a12a480ee83cd310"),
    ),
    sources=(
        Source("debian", f"Debian's {DEBIAN_PACKAGE} package", _debian_source),
        Source("mirror", f"Zalando's mirror {MIRROR_URL}", _mirror_source, opt_in=True),
    ),
    cache_subdir="fashion-mnist",  # its files share MNIST's names, so they need a folder of their own
    torchvision_dir="FashionMNIST",
    fix_hint=f"apt-get install {DEBIAN_PACKAGE}, or run `mnistlab data --dataset fashion-mnist --source mirror` "
             "where the internet is reachable",
)
