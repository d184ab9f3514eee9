"""The dataset registry, and Fashion-MNIST on the files Debian's dataset-fashion-mnist installs.

Where those files are absent the Fashion-MNIST tests skip, saying why, except under CI=true, where the
package is installed on purpose and their absence is a failure.
"""
import gzip
import hashlib
import io
import os
import shutil
import stat
import subprocess
import urllib.request
from dataclasses import replace

import numpy as np
import pytest
import torch

from mnistlab.data import fashion_mnist
from mnistlab.data.idx import encode_idx
from mnistlab.data.loader import ensure_dataset, load_dataset
from mnistlab.data.mnist import normalize
from mnistlab.data.registry import DataFile, DatasetSpec, get_dataset, list_datasets
from mnistlab.errors import DataError

FASHION = get_dataset("fashion-mnist")


def test_registry_names_and_unknown_name():
    assert [s.name for s in list_datasets()] == ["mnist", "fashion-mnist"]
    assert all(isinstance(s, DatasetSpec) for s in list_datasets())
    with pytest.raises(DataError) as e:
        get_dataset("nosuch")
    assert str(e.value) == "unknown dataset 'nosuch': use one of mnist, fashion-mnist"
    assert get_dataset(FASHION) is FASHION


def test_specs_are_consistent():
    for spec in list_datasets():
        assert len(spec.files) == 4 and spec.num_classes == 10
        assert len(spec.classes_en) == len(spec.classes_pt) == spec.num_classes
        assert [f.name for f in spec.files] == ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                                "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
        assert sum(spec.train_class_counts) == 60000 and spec.files[0].size == 16 + 60000 * 28 * 28
    assert FASHION.max_per_class == 6000 and get_dataset("mnist").max_per_class == 5421
    assert FASHION.class_names("en")[0] == "T-shirt/top" and FASHION.class_names("pt")[9] == "Bota de cano curto"
    assert FASHION.cache_subdir  # its file names are MNIST's: one cache folder would mix them


def test_mnist_matches_its_spec(mnist):
    assert mnist.name == "mnist" and mnist.spec is get_dataset("mnist")
    assert torch.bincount(mnist.train_labels).tolist() == list(mnist.spec.train_class_counts)
    assert (1, *mnist.train_images.shape[1:]) == mnist.spec.input_shape  # what a model is built for
    x = torch.ones(2)
    assert torch.equal(normalize(x), normalize(x, spec=mnist.spec))
    assert torch.equal(normalize(x, spec=FASHION), (x - FASHION.mean) / FASHION.std)


# ---------------------------------------------------------------- Fashion-MNIST on Debian's files

@pytest.fixture(scope="module")
def debian_folder():
    folders = fashion_mnist.debian_folders()
    if not folders:
        reason = f"Debian's {fashion_mnist.DEBIAN_PACKAGE} is not installed (apt-get install it to run these tests)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI installs it, so its absence is an error")
        pytest.skip(reason)
    return folders[0]


@pytest.fixture(scope="module")
def fashion(debian_folder, tmp_path_factory):
    cache = tmp_path_factory.mktemp("empty-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MNISTLAB_DATA", str(cache))
        data = load_dataset("fashion-mnist")
    assert list(cache.iterdir()) == []  # read where Debian put it, never copied
    return data


def _raw(folder, name):
    return gzip.decompress((folder / f"{name}.gz").read_bytes())


def test_fashion_mnist_from_debian(fashion, debian_folder):
    assert fashion.folder == debian_folder and fashion.name == "fashion-mnist" and fashion.spec is FASHION
    for f in FASHION.files:
        assert hashlib.md5(_raw(debian_folder, f.name)).hexdigest() == f.md5 == fashion.checksums[f.name]
    assert fashion.train_images.shape == (60000, 28, 28) and fashion.train_images.dtype == torch.uint8
    assert fashion.test_images.shape == (10000, 28, 28) and fashion.test_labels.shape == (10000,)
    assert torch.bincount(fashion.train_labels).tolist() == [6000] * 10
    assert (1, *fashion.train_images.shape[1:]) == FASHION.input_shape and FASHION.num_classes == 10
    pixels = fashion.train_images.double() / 255  # the spec's constants are these, rounded to 4 places
    assert abs(pixels.mean().item() - FASHION.mean) < 5e-5 and abs(pixels.std().item() - FASHION.std) < 5e-5


def test_debian_files_found_without_dpkg(debian_folder, monkeypatch):
    monkeypatch.setattr(fashion_mnist.shutil, "which", lambda name: None)
    assert fashion_mnist.debian_folders() == [fashion_mnist.DEBIAN_FOLDER]


def test_flipped_byte_in_a_data_dir_is_one_line(debian_folder, tmp_path):
    for f in FASHION.files[1:]:
        (tmp_path / f"{f.name}.gz").write_bytes((debian_folder / f"{f.name}.gz").read_bytes())
    images = bytearray(_raw(debian_folder, "train-images-idx3-ubyte"))
    images[123_456] ^= 0x20
    bad = tmp_path / "train-images-idx3-ubyte"
    bad.write_bytes(bytes(images))
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    with pytest.raises(DataError) as e:
        ensure_dataset("fashion-mnist", tmp_path)
    message = str(e.value)
    assert "\n" not in message and message.startswith(f"--data-dir {tmp_path}: {bad} fails its checksum")
    assert hashlib.md5(bytes(images)).hexdigest() in message and FASHION.files[0].md5 in message
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == before


def test_data_dir_lacking_files_is_an_error_and_stays_untouched(debian_folder, tmp_path):
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes((debian_folder / "t10k-labels-idx1-ubyte.gz").read_bytes())
    with pytest.raises(DataError, match="no train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte"):
        load_dataset("fashion-mnist", tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["t10k-labels-idx1-ubyte.gz"]


# ---------------------------------------------------------------- sources, without any host

def test_mirror_is_never_tried_unless_asked(tmp_path, monkeypatch):
    monkeypatch.setenv("MNISTLAB_DATA", str(tmp_path))
    monkeypatch.setattr(fashion_mnist, "debian_folders", lambda: [])

    def no_network(*args, **kwargs):
        raise AssertionError("a host was contacted")
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    with pytest.raises(DataError) as e:
        ensure_dataset("fashion-mnist")
    assert "apt-get install dataset-fashion-mnist" in str(e.value) and "--source mirror" in str(e.value)
    assert list(tmp_path.rglob("*")) == []


def _serve(files: dict):
    """A stand-in for urlopen that serves `files` (url -> bytes)."""
    def urlopen(url, timeout=None):
        if url not in files:
            raise OSError(f"no {url}")
        return io.BytesIO(files[url])
    return urlopen


def test_mirror_checks_the_published_gz_md5(tmp_path, monkeypatch):
    monkeypatch.setenv("MNISTLAB_DATA", str(tmp_path))
    tiny = gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x00")
    monkeypatch.setattr(urllib.request, "urlopen", _serve(
        {f"{fashion_mnist.MIRROR_URL}{f.name}.gz": tiny for f in FASHION.files}))
    with pytest.raises(DataError, match=f"expected {FASHION.files[0].gz_md5}"):
        ensure_dataset("fashion-mnist", source="mirror")
    assert list(tmp_path.rglob("*")) == []


def test_mirror_fetch_goes_to_the_cache_only(tmp_path, monkeypatch):
    # A small MNIST-format dataset of our own, so that the whole path runs without any real download.
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 256, (20, 28, 28), dtype=np.uint8), np.arange(20, dtype=np.uint8) % 10,
              rng.integers(0, 256, (10, 28, 28), dtype=np.uint8), np.arange(10, dtype=np.uint8)]
    raws = [encode_idx(a) for a in arrays]
    files = tuple(DataFile(f.name, hashlib.md5(r).hexdigest(), len(r))
                  for f, r in zip(FASHION.files, raws, strict=True))
    spec = replace(FASHION, files=files, sources=FASHION.sources[1:], cache_subdir="tiny")
    monkeypatch.setenv("MNISTLAB_DATA", str(tmp_path / "cache"))
    monkeypatch.setattr(urllib.request, "urlopen", _serve(
        {f"{fashion_mnist.MIRROR_URL}{f.name}.gz": gzip.compress(r) for f, r in zip(files, raws, strict=True)}))
    old = os.umask(0o022)
    try:
        folder, found = ensure_dataset(spec, source="mirror")
    finally:
        os.umask(old)
    assert folder == tmp_path / "cache" / "tiny" and found == {f.name: r for f, r in zip(files, raws, strict=True)}
    for f in files:
        assert stat.S_IMODE((folder / f.name).stat().st_mode) == 0o644
    data = load_dataset(spec)  # now from the cache, no source asked
    assert data.folder == folder and data.train_labels.tolist() == arrays[1].tolist()


def test_data_dir_of_the_other_dataset_is_named(debian_folder):
    with pytest.raises(DataError, match="they are Fashion-MNIST's files: --dataset fashion-mnist"):
        ensure_dataset("mnist", debian_folder)


def test_a_semi_supervised_run_on_fashion_mnist(fashion):
    """The unlabelled pool is every other Fashion-MNIST training image (6,000 per class, 60,000 in all)."""
    from helpers import train_one
    from mnistlab.config import RunConfig
    from mnistlab.data.resident import ResidentData
    from mnistlab.runs.job import Job

    cfg = RunConfig(model="logreg", dataset="fashion-mnist", samples_per_class=3, unlabeled="all", steps=5,
                    early_stopping=False, batch_size=16)
    assert Job.of(cfg, fashion.checksums).config.unlabeled == 60_000 - 30
    result, _ = train_one(cfg.with_(unlabeled=500), ResidentData(fashion, torch.device("cpu")))
    assert result.status == "done" and result.config["dataset"] == "fashion-mnist" and result.history["step"] == [5]


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="needs poppler's pdftotext")
def test_a_run_report_draws_the_runs_figures_with_its_class_names(debian_folder, tmp_path):
    from mnistlab.cli.main import main

    out = tmp_path / "run"
    assert main(["run", "--dataset", "fashion-mnist", "--data-dir", str(debian_folder), "--models", "logreg",
                 "--samples-per-class", "10", "--epochs", "1", "--quiet", "--lang", "en", "--out", str(out)]) == 0
    assert main(["report", str(out), "--no-pdf", "--lang", "en"]) == 0
    for cm in (out / "figures" / "cm_logreg.pdf", out / "report" / "figures" / "cm_logreg.pdf"):
        text = subprocess.run(["pdftotext", str(cm), "-"], capture_output=True, text=True).stdout
        assert "Ankle boot" in text and "T-shirt" in text, cm
