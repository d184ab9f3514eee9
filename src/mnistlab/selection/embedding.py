"""The label-free embedding the clustering rules work in: each image deskewed, then the pool reduced by PCA to 50
dimensions. Computed from the images alone, once per (pool, seed) in a process: a sweep's models of one cell
share it.

Deskewing (shear each digit so that its principal axis is upright, from its own second moments; the classic
MNIST preprocessing) is what makes k-means clusters follow digits: measured on the 60,000 MNIST training images
(TypiClust, 10 clusters): purity 0.72 against 0.58 on raw pixels, 8 of 10 digits among the 10 picks against 7;
with 20 picks, 10 of 10 against 9 (k-means seeds 0 and 1 agree)."""
from __future__ import annotations

import hashlib

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from mnistlab.data.warp import warp
from mnistlab.errors import ConfigError

DIMENSIONS = 50
CHUNK = 10_000  # images deskewed at once (bounds the grid's memory)
# openTSNE's threads, fixed whatever --threads says: its map is identical run to run for one n_jobs but differs
# between n_jobs 1 and 2 (measured on 8,000 MNIST images: 0.0 against 61 map units), and the picks with it.
TSNE_JOBS = 2
_cache: dict[tuple[bytes, int], np.ndarray] = {}


def deskewed(images: torch.Tensor) -> torch.Tensor:
    """float [N, 1, H, W] images in [0, 1], each sheared along x by its own cov(x, y) / var(y) about its centre of
    mass, so that its principal axis is upright; bilinear, black fill."""
    n, _, h, w = images.shape
    ys = torch.arange(h, dtype=images.dtype).view(1, h, 1)
    xs = torch.arange(w, dtype=images.dtype).view(1, 1, w)
    img = images[:, 0]
    mass = img.sum((1, 2)).clamp_min(1e-8)
    my, mx = (img * ys).sum((1, 2)) / mass, (img * xs).sum((1, 2)) / mass
    cov = (img * (xs - mx.view(-1, 1, 1)) * (ys - my.view(-1, 1, 1))).sum((1, 2)) / mass
    var = (img * (ys - my.view(-1, 1, 1)) ** 2).sum((1, 2)) / mass
    alpha = cov / var.clamp_min(1e-8)
    theta = torch.zeros(n, 2, 3, dtype=images.dtype)
    theta[:, 0, 0], theta[:, 0, 1], theta[:, 1, 1] = 1, alpha, 1  # input x = x + alpha (y - centre's y)
    theta[:, 0, 2] = -alpha * ((2 * my + 1) / h - 1)  # the same pixel scale on both axes (square images)
    return warp(images, theta)


def embed(images: np.ndarray, seed: int) -> np.ndarray:
    """float32 [N, DIMENSIONS] features of uint8 images [N, 28, 28]."""
    from sklearn.decomposition import PCA

    key = (hashlib.sha256(np.ascontiguousarray(images).data).digest(), seed)
    if key not in _cache:
        pixels = torch.from_numpy(np.ascontiguousarray(images))
        flat = torch.cat([deskewed(pixels[i:i + CHUNK].unsqueeze(1).float().div_(255.0)).flatten(1)
                          for i in range(0, len(pixels), CHUNK)]).numpy()
        _cache.clear()  # one pool at a time (its features and its map): a sweep keeps its dataset
        # BLAS on one thread: the features, the map made from them and a digit among the picks changed with the
        # BLAS thread count (one thread against two, same seed: docs/selection.md)
        with threadpool_limits(limits=1, user_api="blas"):
            _cache[key] = PCA(DIMENSIONS, random_state=seed).fit_transform(flat).astype(np.float32)
    return _cache[key]


def tsne_map(images: np.ndarray, seed: int) -> np.ndarray:
    """A 2-D openTSNE map of the deskewed PCA features (openTSNE: the `extras`); seeded, so the same map."""
    try:
        from openTSNE import TSNE
    except ImportError:
        raise ConfigError("--select typical-tsne needs openTSNE: install it with `python -m pip install -e "
                          "'.[extras]'`, or use --select typical") from None
    key = (hashlib.sha256(np.ascontiguousarray(images).data).digest(), -1 - seed)
    if key not in _cache:
        with threadpool_limits(limits=1, user_api="blas"):  # openTSNE's PCA start, as in embed
            features = embed(images, seed)
            _cache[key] = np.asarray(TSNE(n_components=2, n_jobs=TSNE_JOBS, random_state=seed)
                                     .fit(features), dtype=np.float32)
    return _cache[key]
