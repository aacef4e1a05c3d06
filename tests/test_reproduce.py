"""``aevb reproduce fig2|fig3|fig4|fig5`` end to end on tiny stand-in data (tiny budgets): every figure is written
with its CSV and summary, from the command line."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from PIL import Image

from aevb.cli import main
from aevb.config import ModelConfig
from aevb.errors import Interrupted
from aevb.io import load_model
from aevb.reproduce.common import Options, quiet_train, train_run
from aevb.reproduce.fig3 import probe_epochs
from aevb.training.hooks import Hooks
from tests.conftest import toy_binary


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A labelled binary stand-in for MNIST and a gray-scale stand-in for Frey Face (values in (0, 1))."""
    root = tmp_path_factory.mktemp("data")
    mnist = toy_binary(220, side=6)
    np.savez(root / "mnist.npz", x=mnist.x.numpy(), y=mnist.y.numpy())
    frey = np.random.default_rng(0).uniform(0.1, 0.9, (220, 1, 6, 4)).astype(np.float32)
    np.save(root / "frey.npy", frey)
    return ["--mnist", str(root / "mnist.npz"), "--frey", str(root / "frey.npy"), "--quiet"]


def _rows(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


def _not_blank(path) -> bool:
    with Image.open(path) as img:
        return np.asarray(img.convert("L"), dtype=np.float64).std() > 1.0


def test_fig2(data, tmp_path):
    out = tmp_path / "fig2"
    assert main(["reproduce", "fig2", "--out", str(out), "--budget", "400", "--nz", "3,2", *data]) == 0
    assert _not_blank(out / "fig2.png")
    rows = _rows(out / "fig2.csv")
    # 198 training points, budget 400: 2 epochs; MNIST Nz=3 and Frey Nz=2, each by AEVB and Wake-Sleep.
    runs = {(r["dataset"], r["nz"], r["method"]) for r in rows}
    assert runs == {(d, nz, m) for d, nz in (("MNIST", "3"), ("Frey Face", "2")) for m in ("aevb", "wake-sleep")}
    assert len(rows) == 8 and all(r["test_elbo"] and r["train_bound"] for r in rows)
    summary = (out / "summary.md").read_text()
    assert "MNIST, Nz = 3: AEVB test bound" in summary and "Frey Face, Nz = 2" in summary
    # A second call with the same settings reuses the finished runs instead of training again.
    stamp = (out / "runs" / "mnist-nz3-aevb" / "model.safetensors").stat().st_mtime_ns
    assert main(["reproduce", "fig2", "--out", str(out), "--budget", "400", "--nz", "3,2", *data]) == 0
    assert (out / "runs" / "mnist-nz3-aevb" / "model.safetensors").stat().st_mtime_ns == stamp
    assert _rows(out / "fig2.csv") == rows


def test_fig3(data, tmp_path):
    out = tmp_path / "fig3"
    argv = ["reproduce", "fig3", "--out", str(out), "--budget", "400", "--eval-points", "8", "--probes", "2"]
    assert main([*argv, "--nll-estimator", "is", "--train-limit", "100", *data]) == 0
    assert _not_blank(out / "fig3.png")
    rows = _rows(out / "fig3.csv")
    # N_train is min(1000, 100) = 100 and min(50000, 100) = 100: one setting, run once; 4 epochs, probed at 1 and 4.
    assert {r["method"] for r in rows} == {"aevb", "wake-sleep", "mcem"}
    assert {(r["n_train"], r["epoch"]) for r in rows} == {("100", "1"), ("100", "4")}
    assert all(float(r["train_marginal"]) < 0 and float(r["test_marginal"]) < 0 for r in rows)
    assert (
        "estimated by **importance sampling with the encoder as proposal (K = 1000)**"
        in (out / "summary.md").read_text()
    )


def test_fig3_probe_schedule():
    assert probe_epochs(1, 5) == {1}
    assert probe_epochs(1000, 4) == {1, 10, 100, 1000}


def test_fig4_and_fig5(data, tmp_path):
    out4, out5 = tmp_path / "fig4", tmp_path / "fig5"
    assert main(["reproduce", "fig4", "--out", str(out4), "--budget", "200", *data]) == 0
    for name in ("fig4.png", "fig4_mnist.png", "fig4_frey.png"):
        assert _not_blank(out4 / name), name
    with Image.open(out4 / "fig4_mnist.png") as img:  # 20 × 20 tiles of 6 × 6 pixels, padding 2, upscaled 2×
        assert img.size == (2 * (20 * 8 + 2), 2 * (20 * 8 + 2))
    assert [r["dataset"] for r in _rows(out4 / "fig4.csv")] == ["Frey Face", "MNIST"]
    assert main(["reproduce", "fig5", "--out", str(out5), "--budget", "200", "--nz", "2,5", *data]) == 0
    assert _not_blank(out5 / "fig5.png") and _not_blank(out5 / "fig5_nz5.png")
    assert [r["nz"] for r in _rows(out5 / "fig5.csv")] == ["2", "5"]
    assert "Fig. 5" in (out5 / "summary.md").read_text()


def test_bad_names_are_errors(data, tmp_path, capsys):
    assert main(["reproduce", "fig9", "--out", str(tmp_path), *data]) == 2
    assert (
        "unknown experiment 'fig9'; choose one of: ae-vs-vae, beta-vae-dsprites, fig2, fig3, fig4, fig5"
        in capsys.readouterr().err
    )
    assert main(["reproduce", "fig5", "--out", str(tmp_path), "--nz", "7", *data]) == 2
    assert "matches none" in capsys.readouterr().err
    assert main(["reproduce", "fig4", "--out", str(tmp_path), "--budget", "-5", *data]) == 2
    assert "--budget must be a positive number" in capsys.readouterr().err
    assert main(["reproduce", "beta-vae-dsprites", "--out", str(tmp_path), "--arch", "resnet", *data]) == 2
    assert "--arch must be mlp or conv, got 'resnet'" in capsys.readouterr().err


class _StopAfter(Hooks):
    """Stands in for Ctrl-C or the end of a session: asks the trainer to stop after ``epochs`` epochs."""

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs

    def on_epoch_end(self, run, record) -> None:
        if run.epoch == self.epochs:
            run.stop_requested = True


def test_an_experiment_run_stopped_midway_or_given_a_larger_budget_is_continued_exactly(tmp_path):
    data = toy_binary(240, side=6)
    train, test = data.take(slice(0, 200)), data.take(slice(200, 240))
    opts = Options(quiet=True)

    def run(root, callbacks=None, epochs=4):
        cfg = quiet_train(opts, "toy", epochs, batch_size=20, lr=1e-2, checkpoint_every=1, eval_every=0, terms_points=0)
        return train_run("toy", ModelConfig(latent_dim=2, hidden=[16]), cfg, train, test, root, opts, callbacks)

    whole = run(tmp_path / "whole")
    with pytest.raises(Interrupted, match="continues it"):
        run(tmp_path / "split", [_StopAfter(2)])
    assert not (tmp_path / "split" / "runs" / "toy" / "model.safetensors").exists()
    continued = run(tmp_path / "split")  # the second sitting: epochs 3 and 4 from the checkpoint of epoch 2
    assert not continued.reused and [r["epoch"] for r in continued.history] == [1, 2, 3, 4]
    assert [r["train_bound"] for r in continued.history] == [r["train_bound"] for r in whole.history]
    a, b = load_model(whole.run_dir).state_dict(), load_model(continued.run_dir).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    # The training time counts both sittings; a third call reuses the finished run.
    assert continued.seconds >= sum(r["epoch_seconds"] for r in continued.history)  # all four epochs
    again = run(tmp_path / "split")
    assert again.reused and again.seconds == continued.seconds

    # A larger budget continues the finished run (from the same place as above: the end of epoch 2) ...
    short = run(tmp_path / "longer", epochs=2)
    assert [r["epoch"] for r in short.history] == [1, 2]
    longer = run(tmp_path / "longer", epochs=4)
    assert not longer.reused and [r["train_bound"] for r in longer.history] == [r["train_bound"] for r in whole.history]
    c = load_model(longer.run_dir).state_dict()
    assert all(torch.equal(a[k], c[k]) for k in a)
    # ... and a smaller one cannot reuse it: the run is trained again.
    fewer = run(tmp_path / "longer", epochs=3)
    assert not fewer.reused and [r["epoch"] for r in fewer.history] == [1, 2, 3]


def test_one_class_benchmarks_write_every_detector_per_class(data, tmp_path):
    """`aevb reproduce one-class` on a labelled stand-in (4 prototype classes): each normal class gets one AUROC per
    detector, all in one run; the tabular variant on wine with one seed."""
    pytest.importorskip("sklearn")
    mnist = data[1]
    out = tmp_path / "oc"
    argv = ["reproduce", "one-class", "--datasets", mnist, "--classes", "0,1", "--epochs", "3", "--quiet"]
    assert main([*argv, "--out", str(out)]) == 0
    rows = _rows(out / "one_class.csv")
    detectors = {r["detector"] for r in rows}
    assert {
        "aevb (relerr, default)",
        "aevb (sqerr)",
        "aevb (regret)",
        "aevb (nll)",
        "aevb (elbo)",
        "IsolationForest",
        "PCA-20 recon. error",
    } <= detectors
    assert len(rows) == 2 * len(detectors) and {r["class"] for r in rows} == {"0", "1"}
    assert all(0 <= float(r["auroc"]) <= 1 for r in rows)
    # the prototypes differ in many pixels: the simplest baselines separate them almost perfectly
    assert min(float(r["auroc"]) for r in rows if r["detector"] == "PCA-20 recon. error") > 0.9
    assert "| detector |" in (out / "summary.md").read_text() and _not_blank(out / "roc_mnist.png")
    valid = tmp_path / "valid"  # the same, scored on held-out training rows (to choose without the test set)
    assert main([*argv, "--classes", "0", "--validation", "--out", str(valid)]) == 0
    assert "VALIDATION, not test" in (valid / "summary.md").read_text()
    assert {r["class"] for r in _rows(valid / "one_class.csv")} == {"0"}
    table = tmp_path / "tab"
    args = ["reproduce", "one-class-tabular", "--datasets", "wine", "--seeds", "1", "--epochs", "5", "--quiet"]
    assert main([*args, "--out", str(table)]) == 0
    tab = _rows(table / "one_class_tabular.csv")
    assert {r["table"] for r in tab} == {"wine"} and len(tab) == len({r["detector"] for r in tab})
