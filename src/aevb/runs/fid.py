"""FID of a trained run and the FID classifier, behind ``aevb fid`` and ``aevb fid-classifier``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aevb.data import load_dataset
from aevb.errors import AevbError, ConfigError
from aevb.metrics.classifier import accuracy, default_dir, save_classifier, train_classifier
from aevb.metrics.fid import FEATURES, model_fid
from aevb.runs.rundir import Run


def fid_run(
    run_dir: str | Path,
    features: str = "aevb_classifier",
    weights: str = "",
    n: int = 1000,
    split: str = "test",
    seed: int = 0,
) -> dict[str, Any]:
    """FID between ``n`` samples of the run's model and ``n`` points of ``split``; the key names the extractor."""
    if n < 2:
        raise ConfigError(f"-n must be >= 2 for a covariance, got {n}")
    run = Run(run_dir)
    data = run.data(split)
    # The aevb classifier is trained on (and named after) the run's training set.
    train = run.data("train") if features == "aevb_classifier" and not weights else data
    extractor = FEATURES.get(features)(weights, train, run.device)
    value = model_fid(run.model, data, extractor, n, seed)
    return {extractor.key: value, "n": min(n, len(data)), "split": split, "features": extractor.name}


def train_fid_classifier(
    dataset: str, out: str = "", data_dir: str = "", epochs: int = 2, seed: int = 0
) -> dict[str, Any]:
    """Train the aevb FID classifier on ``dataset``'s train split and save it in ``out`` (default: the cache)."""
    train = load_dataset(dataset, split="train", data_dir=data_dir or None)
    clf = train_classifier(train, epochs=epochs, seed=seed, progress=True)
    info: dict[str, Any] = {"train_accuracy": accuracy(clf, train), "train_size": len(train), "epochs": epochs}
    try:
        test = load_dataset(dataset, split="test", data_dir=data_dir or None)
        info["test_accuracy"] = accuracy(clf, test)
    except AevbError:  # a dataset without a test split still gets its classifier
        pass
    directory = save_classifier(clf, out or default_dir(train), **info)
    return {"directory": str(directory), "features": f"aevb_classifier_{clf.dataset}", **info}
