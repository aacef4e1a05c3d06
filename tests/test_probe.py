"""Probes with few labels: balanced subsets, errors on features whose answer is known, and the command end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

from aevb.cli import main
from aevb.errors import ConfigError
from aevb.metrics.probe import balanced_subset, probe_errors
from tests.conftest import toy_binary


def test_balanced_subset_takes_the_same_count_of_every_class_and_depends_on_the_seed():
    labels = np.repeat(np.arange(10), 50)
    a = balanced_subset(labels, 100, np.random.default_rng(0))
    assert np.bincount(labels[a]).tolist() == [10] * 10 and len(set(a.tolist())) == 100
    assert np.array_equal(a, balanced_subset(labels, 100, np.random.default_rng(0)))
    assert not np.array_equal(a, balanced_subset(labels, 100, np.random.default_rng(1)))
    with pytest.raises(ConfigError, match="cannot be split evenly over 10 classes"):
        balanced_subset(labels, 105, np.random.default_rng(0))
    with pytest.raises(ConfigError, match="fewer than the 60 asked for"):
        balanced_subset(labels, 600, np.random.default_rng(0))


def test_informative_features_classify_and_noise_does_not():
    rng = np.random.default_rng(0)
    y_train, y_test = rng.integers(0, 10, 2000), rng.integers(0, 10, 1000)
    centres = rng.normal(size=(10, 5)) * 5
    features = {
        "informative": (centres[y_train] + rng.normal(size=(2000, 5)), centres[y_test] + rng.normal(size=(1000, 5))),
        "noise": (rng.normal(size=(2000, 5)), rng.normal(size=(1000, 5))),
    }
    rows = probe_errors(features, y_train, y_test, [50, 200], seeds=3)
    by = {(r["features"], r["classifier"], r["labels"]): r for r in rows}
    for clf in ("logistic", "knn"):
        assert by["informative", clf, 200]["error"] < 0.05
        assert by["noise", clf, 200]["error"] > 0.8  # chance: 0.9
        assert len(by["noise", clf, 50]["errors"]) == 3 and by["noise", clf, 50]["error_sd"] >= 0


def test_probe_command_writes_its_table_and_refuses_unlabelled_data(tmp_path, capsys):
    data = toy_binary(400, side=6)
    np.savez(tmp_path / "toy.npz", x=data.x.numpy(), y=data.y.numpy())
    run = str(tmp_path / "run")
    train = ["train", "--dataset", str(tmp_path / "toy.npz"), "--latent-dim", "3", "--hidden", "16", "--epochs", "2"]
    assert main([*train, "--progress", "false", "--out", run]) == 0
    capsys.readouterr()
    assert main(["probe", run, "--labels", "8", "20", "--seeds", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    names = {r["features"] for r in out["rows"]}
    assert names == {"VAE posterior mean (3)", "PCA (3)", "raw (36)"} and len(out["rows"]) == 3 * 2 * 2
    assert all(0.0 <= r["error"] <= 1.0 for r in out["rows"])
    assert (tmp_path / "run" / "probe" / "probe.png").is_file() and (tmp_path / "run" / "probe" / "probe.md").is_file()
    assert main(["probe", run, "--labels", "-1"]) == 2  # named, not NumPy's "expected non-negative integer"
    assert "--labels takes positive counts of labelled training points, got -1" in capsys.readouterr().err
    np.save(tmp_path / "nolabels.npy", data.x.numpy())
    run2 = str(tmp_path / "run2")
    assert main(["train", "--dataset", str(tmp_path / "nolabels.npy"), "--epochs", "1", "--progress", "false",
                 "--out", run2]) == 0  # fmt: skip
    assert main(["probe", run2]) != 0
    assert "aevb probe needs labels" in capsys.readouterr().err


def test_augment_writes_labelled_samples_that_dataset_reads_back(tmp_path, capsys):
    data = toy_binary(300, side=6)
    np.savez(tmp_path / "toy.npz", x=data.x.numpy(), y=data.y.numpy())
    run = str(tmp_path / "cvae")
    train = ["train", "--dataset", str(tmp_path / "toy.npz"), "--model", "cvae", "--num-classes", "4"]
    assert (
        main([*train, "--latent-dim", "2", "--hidden", "16", "--epochs", "3", "--progress", "false", "--out", run]) == 0
    )
    for flag, values in (("--mean", None), ("--sample", {0.0, 1.0})):
        out = tmp_path / f"aug{flag}.npz"
        assert main(["augment", run, "--per-class", "5", "--out", str(out), flag]) == 0
        with np.load(out, allow_pickle=False) as npz:
            x, y = npz["x"], npz["y"]
        assert x.shape == (20, 1, 6, 6) and x.dtype == np.float32 and np.bincount(y).tolist() == [5, 5, 5, 5]
        assert values is None or set(np.unique(x).tolist()) <= values  # draws of a Bernoulli decoder are binary
    back = str(tmp_path / "back")
    assert main(["train", "--dataset", str(tmp_path / "aug--mean.npz"), "--epochs", "1", "--progress", "false",
                 "--out", back]) == 0  # fmt: skip
    plain = str(tmp_path / "plain")
    assert main(["train", "--dataset", str(tmp_path / "toy.npz"), "--epochs", "1", "--progress", "false",
                 "--out", plain]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["augment", plain, "--per-class", "2", "--out", str(tmp_path / "a.npz")]) != 0
    assert "needs a conditional model (--model cvae)" in capsys.readouterr().err


def test_commands_that_need_scikit_learn_say_how_to_install_it(monkeypatch, tmp_path):
    import importlib.util

    from aevb.runs import disentanglement_run, probe_run

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "sklearn" else real(name, *a))
    for run, command in ((probe_run, "aevb probe"), (disentanglement_run, "aevb disentanglement")):
        with pytest.raises(ConfigError, match=f"{command} uses scikit-learn's .*pip install 'aevb\\[plots\\]'"):
            run(tmp_path, [100]) if run is probe_run else run(tmp_path)


def test_too_few_labels_for_the_classes_is_a_clear_error():
    """--labels 0 used to end in a traceback from the classifier's fit."""
    labels = np.repeat(np.arange(10), 5)
    for n in (0, 5):
        with pytest.raises(ConfigError, match=r"cannot cover the 10 classes.*--labels 100"):
            balanced_subset(labels, n, np.random.default_rng(0))
