"""A small CNN classifier that aevb trains on a labelled image dataset (MNIST-like) for FID features.

Its 128-d penultimate layer replaces Inception features where Inception makes little sense (28×28 digits), giving
``fid_aevb_classifier_<dataset>`` — a number comparable only between runs that use the same classifier file, never
to published (Inception) FIDs. Stored as ``classifier.safetensors`` + ``classifier.json`` (nothing is unpickled).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors.torch import load_model, save_model
from torch import nn

from aevb.atomic import write_atomic, write_text_atomic
from aevb.data import TensorData
from aevb.errors import CheckpointError, DataError

FORMAT = "aevb-fid-classifier"
FEATURE_DIM = 128


class FIDClassifier(nn.Module):
    """conv 3×3 (32) → pool → conv 3×3 (64) → pool → 4×4 average pool → 128 (features) → classes."""

    def __init__(self, event_shape: tuple[int, ...], num_classes: int, dataset: str = "data") -> None:
        super().__init__()
        if len(event_shape) != 3:
            raise DataError(f"the aevb FID classifier needs images (C, H, W), got datapoints of shape {event_shape}")
        self.event_shape, self.num_classes, self.dataset = tuple(event_shape), num_classes, dataset
        self.body = nn.Sequential(
            nn.Conv2d(event_shape[0], 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(4),
            nn.Flatten(),
            nn.Linear(64 * 16, FEATURE_DIM),
            nn.ReLU(),
        )
        self.head = nn.Linear(FEATURE_DIM, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))

    def features_net(self) -> nn.Module:
        """The penultimate layer as a network: images → ``[N, 128]``."""
        return self.body


def dataset_slug(name: str) -> str:
    """A dataset name (or file path) as it appears in metric keys: ``mnist``, ``fashion_mnist``, ``my_images``."""
    return re.sub(r"[^a-z0-9]+", "_", Path(name).stem.lower()).strip("_") or "data"


def train_classifier(
    data: TensorData, epochs: int = 2, batch_size: int = 128, lr: float = 1e-3, seed: int = 0, progress: bool = False
) -> FIDClassifier:
    """Fit the classifier to labelled ``data`` (a :class:`~aevb.data.TensorData`) by cross-entropy with Adam."""
    if data.y is None:
        raise DataError(f"{data.name}: the aevb FID classifier needs labels, and this dataset has none")
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        clf = FIDClassifier(tuple(data.event_shape), int(data.y.max()) + 1, dataset_slug(data.name))
    opt = torch.optim.Adam(clf.parameters(), lr=lr)
    y = data.y.long()
    for epoch in range(epochs):
        perm = torch.randperm(len(data), generator=gen)
        for i in range(0, len(data), batch_size):
            idx = perm[i : i + batch_size]
            loss = F.cross_entropy(clf(data.x[idx].float()), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if progress:
            print(f"FID classifier epoch {epoch + 1}/{epochs}: last batch loss {float(loss.detach()):.4f}", flush=True)
    return clf.eval()


@torch.no_grad()
def accuracy(clf: FIDClassifier, data: TensorData, batch_size: int = 1000) -> float:
    correct = 0
    for i in range(0, len(data), batch_size):
        correct += int((clf(data.x[i : i + batch_size].float()).argmax(1) == data.y[i : i + batch_size]).sum())
    return correct / len(data)


def save_classifier(clf: FIDClassifier, directory: str | Path, **info: Any) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    write_atomic(directory / "classifier.safetensors", lambda tmp: save_model(clf, str(tmp)))
    meta = {
        "format": FORMAT,
        "dataset": clf.dataset,
        "event_shape": list(clf.event_shape),
        "num_classes": clf.num_classes,
        "feature_dim": FEATURE_DIM,
        **info,
    }
    write_text_atomic(directory / "classifier.json", json.dumps(meta, indent=2) + "\n")
    return directory


def load_classifier(directory: str | Path) -> FIDClassifier:
    directory = Path(directory)
    try:
        meta = json.loads((directory / "classifier.json").read_text())
        if meta.get("format") != FORMAT:
            raise ValueError(f"format is not {FORMAT!r}")
        clf = FIDClassifier(tuple(meta["event_shape"]), int(meta["num_classes"]), meta["dataset"])
        missing, unexpected = load_model(clf, str(directory / "classifier.safetensors"), strict=False)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as err:
        raise CheckpointError(f"{directory} does not hold a readable aevb FID classifier: {err}") from None
    if missing or unexpected:
        raise CheckpointError(f"{directory}: classifier weights do not match classifier.json")
    return clf.eval()


def default_dir(data: TensorData) -> Path:
    """A user cache (``$AEVB_CACHE_DIR``, else ``~/.cache/aevb``), never the data directory, which may be read-only
    or shared."""
    import os

    root = Path(os.environ.get("AEVB_CACHE_DIR") or Path.home() / ".cache" / "aevb")
    return root / "fid" / f"aevb_classifier_{dataset_slug(data.name)}"


def classifier_for(data: TensorData, directory: str | Path | None = None, epochs: int = 2) -> FIDClassifier:
    """The classifier in ``directory`` (default :func:`default_dir`), trained on ``data`` and saved there first if
    it is not present yet. A stored classifier for other image shapes is an error, not silently retrained."""
    directory = Path(directory) if directory else default_dir(data)
    if (directory / "classifier.json").is_file():
        clf = load_classifier(directory)
        if clf.event_shape != tuple(data.event_shape):
            raise DataError(
                f"the FID classifier in {directory} is for images of shape {clf.event_shape}, the data "
                f"{data.name!r} has {tuple(data.event_shape)}; pass another --fid-weights directory"
            )
        return clf
    print(f"training the aevb FID classifier on {data.name!r} ({len(data)} images) → {directory}", flush=True)
    clf = train_classifier(data, epochs=epochs)
    save_classifier(clf, directory, train_accuracy=accuracy(clf, data), train_size=len(data), epochs=epochs)
    return clf
