"""Which training labels a semi-supervised model may see: a balanced or random subset chosen by a seed.

The others are replaced by −1 (unlabelled) before the data reach a model, so they cannot influence training.
The choice depends only on the labels, the count and the seed, so a resumed run hides the same labels.
"""

from __future__ import annotations

import numpy as np
import torch

from aevb.errors import DataError

UNLABELLED = -1


def labelled_indices(y: np.ndarray, per_class: int = 0, count: int = 0, seed: int = 0) -> np.ndarray:
    """Sorted indices of the labels to keep: ``per_class`` of every class (balanced), or ``count`` at random."""
    if (per_class > 0) == (count > 0):
        raise DataError("give exactly one of labels_per_class and labeled (both > 0 is ambiguous, both 0 keeps all)")
    rng = np.random.default_rng([seed, 20140605])  # the M2 paper's arXiv date: a stream apart from the run's others
    if count:
        if count > len(y):
            raise DataError(f"labeled = {count} is more than the {len(y)} training points")
        return np.sort(rng.choice(len(y), count, replace=False))
    picks = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        if len(members) < per_class:
            raise DataError(f"class {c} has {len(members)} training points, fewer than labels_per_class = {per_class}")
        picks.append(rng.choice(members, per_class, replace=False))
    return np.sort(np.concatenate(picks))


def hide_labels(
    y: torch.Tensor | None, per_class: int = 0, count: int = 0, seed: int = 0, name: str = "data"
) -> torch.Tensor:
    """``y`` with every label outside :func:`labelled_indices` set to −1."""
    if y is None:
        raise DataError(f"{name} has no labels to keep some of (labels_per_class / labeled need labelled data)")
    keep = torch.from_numpy(labelled_indices(y.cpu().numpy(), per_class, count, seed))
    hidden = torch.full_like(y, UNLABELLED)
    hidden[keep] = y[keep]
    return hidden
