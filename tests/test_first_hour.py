"""A new user's first hour: the README's quickstart blocks run as written (on small data), the Python snippet is
repeatable, run directories from Python and the CLI are one format, and tabular data work with every command."""

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import aevb
from aevb.cli import build_parser, main

from .readme_blocks import README, block, small

ROOT = Path(__file__).resolve().parents[1]


def test_readme_cli_quickstart_runs_as_written(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    lines = small(block("## Quickstart: command line", "sh")).replace("\\\n", " ").splitlines()
    commands = [shlex.split(line.split("#")[0]) for line in lines if line.strip()]
    assert [c[1] for c in commands] == ["datasets", "train", "evaluate", "sample", "reconstruct", "encode", "train"]
    for command in commands:
        assert command[0] == "aevb"
        capsys.readouterr()
        assert main(command[1:] + (["--progress", "false"] if command[1] == "train" else [])) == 0, command
        if command[1] == "evaluate":  # the keys the README's comment promises
            assert {"elbo", "nll", "nll_stderr", "n"} <= json.loads(capsys.readouterr().out).keys()
    for name in ("samples.png", "recon.png", "latents.npz", "RUN/model.safetensors"):
        assert (tmp_path / name).is_file(), name
    assert len((tmp_path / "RUN" / "metrics.jsonl").read_text().splitlines()) == 2  # resumed and extended


def _python_quickstart(directory: Path) -> str:
    code = small(block("## Quickstart: Python", "python"))
    script = directory / "quickstart.py"
    script.write_text(code)
    out = subprocess.run(
        [sys.executable, str(script)], cwd=directory, capture_output=True, text=True, timeout=600, check=False
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_readme_python_quickstart_is_repeatable(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir(), second.mkdir()
    out_a, out_b = _python_quickstart(first), _python_quickstart(second)

    def printed(out: str) -> list[str]:  # on a GPU, the placement line names the free memory of the moment
        return [line for line in out.splitlines() if not line.startswith("data: ")]

    assert printed(out_a) == printed(out_b)  # the ELBO and log p(x) it prints
    run = re.search(r'run_dir="([^"]+)"', README).group(1)
    a, b = load_file(first / run / "model.safetensors"), load_file(second / run / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_python_fit_writes_a_run_the_cli_can_use(tmp_path, capsys):
    data = aevb.load_dataset("mnist-sample", "train").spread(600)
    test = aevb.load_dataset("mnist-sample", "test").spread(100)
    model = aevb.build_model(aevb.ModelConfig(latent_dim=4, hidden=[32]), data.event_shape, seed=0)
    aevb.fit(model, data, test=test, epochs=1, run_dir=tmp_path / "run", progress=False, dataset="mnist-sample")
    assert main(["evaluate", str(tmp_path / "run"), "--nll-samples", "5", "--limit", "20", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 20
    assert main(["train", "--resume", "--out", str(tmp_path / "run"), "--epochs", "2", "--progress", "false"]) == 0
    assert len((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()) == 2
    # an existing run is never overwritten unless asked
    with pytest.raises(aevb.ConfigError, match="already holds a run"):
        aevb.fit(model, data, epochs=1, run_dir=tmp_path / "run", progress=False)
    aevb.fit(model, data, epochs=1, run_dir=tmp_path / "run", progress=False, overwrite=True)
    assert len((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()) == 1


def test_a_hand_built_model_leaves_a_note_and_commands_say_why(tmp_path, capsys):
    from aevb.likelihoods import BernoulliLikelihood, Decoder
    from aevb.nets import MLPNet
    from aevb.posteriors import DiagonalGaussian, Encoder
    from aevb.priors import StandardNormalPrior

    enc = Encoder(MLPNet((1, 28, 28), [16], 4, "relu"), DiagonalGaussian(2))
    dec = Decoder(MLPNet((2,), [16], 784, "relu"), BernoulliLikelihood((1, 28, 28)))
    model = aevb.VAE(enc, dec, StandardNormalPrior(2), (1, 28, 28))
    data = aevb.load_dataset("mnist-sample", "train").spread(200)
    aevb.fit(model, data, epochs=1, run_dir=tmp_path / "run", progress=False)
    assert "built by hand" in (tmp_path / "run" / "NO_CONFIG.txt").read_text()
    assert main(["evaluate", str(tmp_path / "run")]) == 2
    assert "built by hand" in capsys.readouterr().err


def test_train_help_explains_each_flag():
    help_text = build_parser().subcommands["train"].format_help()
    block = help_text.split("\n  --likelihood", 1)[1][:300]
    assert "family of p(x|z)" in block and "bernoulli, gaussian" in block
    for group in ("model", "data", "objective", "optimizer", "run", "evaluation"):
        assert f"\n{group} (TOML: [" in help_text, group  # a heading of its own


def test_python_functions_take_numpy_and_any_float_dtype():
    torch.manual_seed(0)
    model = aevb.build_model(aevb.ModelConfig(latent_dim=2, hidden=[8]), (6,), seed=0)
    x = (np.random.default_rng(0).random((5, 6)) < 0.5).astype(np.float64)
    torch.manual_seed(1)
    from_numpy = aevb.log_likelihood(model, x, num_samples=10)
    torch.manual_seed(1)
    from_tensor = aevb.log_likelihood(model, torch.from_numpy(x).float(), num_samples=10)
    assert torch.equal(from_numpy, from_tensor)
    torch.manual_seed(1)
    assert torch.isfinite(model.elbo(torch.from_numpy(x))).all()  # float64 tensor
    with pytest.raises(aevb.DataError, match=r"shape \[N, 6\]"):
        aevb.log_likelihood(model, np.zeros((5, 7)), num_samples=2)
    with pytest.raises(aevb.DataError, match="numbers"):
        aevb.log_likelihood(model, np.array([["a"] * 6]), num_samples=2)


@pytest.fixture(scope="module")
def breast_cancer_csv(tmp_path_factory):
    """scikit-learn's breast-cancer table, standardized: 569 rows of 30 real features (offline, bundled)."""
    from sklearn.datasets import load_breast_cancer

    x = load_breast_cancer().data
    x = (x - x.mean(0)) / x.std(0)
    path = tmp_path_factory.mktemp("tabular") / "cancer.csv"
    np.savetxt(path, x, delimiter=",", fmt="%.6f")
    return path


def test_tabular_csv_works_with_every_command(breast_cancer_csv, tmp_path, capsys):
    run = tmp_path / "run"
    argv = ["train", "--dataset", str(breast_cancer_csv), "--likelihood", "gaussian", "--latent-dim", "2"]
    argv += ["--hidden", "64", "--epochs", "60", "--batch-size", "32", "--out", str(run)]
    assert main(argv) == 0
    assert "squash_mean = auto → false" in capsys.readouterr().out
    assert aevb.load_config(run / "config.toml").model.squash_mean is False  # the decision is recorded
    assert main(["evaluate", str(run), "--nll-samples", "100", "--json"]) == 0
    elbo = json.loads(capsys.readouterr().out)["elbo"]
    assert elbo > -30  # an unsquashed Gaussian mean: the −20-nat class, not the −40 of a mean forced into [0, 1]
    assert main(["sample", str(run), "-n", "10", "--out", str(tmp_path / "s.csv")]) == 0
    assert np.loadtxt(tmp_path / "s.csv", delimiter=",", skiprows=1).shape == (10, 30)
    assert main(["sample", str(run), "-n", "10", "--out", str(tmp_path / "s.npy")]) == 0
    assert np.load(tmp_path / "s.npy").shape == (10, 30)
    assert main(["reconstruct", str(run), "-n", "4", "--out", str(tmp_path / "r.csv")]) == 0
    assert np.loadtxt(tmp_path / "r.csv", delimiter=",", skiprows=1, usecols=range(2, 32)).shape == (8, 30)
    assert main(["traverse", str(run), "--steps", "5", "--out", str(tmp_path / "t.csv")]) == 0
    assert np.loadtxt(tmp_path / "t.csv", delimiter=",", skiprows=1).shape == (2 * 5, 2 + 30)  # dim, offset, x
    assert main(["sample", str(run), "--out", str(tmp_path / "s.png")]) == 2
    assert "not images" in capsys.readouterr().err
    assert main(["plot", str(run), "--out", str(tmp_path / "plots")]) == 0
    out = capsys.readouterr().out
    assert "scatter.png" in out and "curves.png" in out and "skipped" in out
    assert main(["report", str(run)]) == 0
    assert (run / "report.html").is_file()


def test_reconstruction_grid_labels_its_rows(tmp_path):
    from PIL import Image

    from aevb.plots.grids import recon_grid
    from aevb.plots.png import save_grid

    model = aevb.build_model(aevb.ModelConfig(latent_dim=2, hidden=[8]), (1, 8, 8), seed=0)
    x = torch.rand(4, 1, 8, 8)
    plain = np.asarray(Image.open(save_grid(torch.cat([x, x]), tmp_path / "plain.png", nrow=4)))
    labelled = np.asarray(Image.open(recon_grid(model, x, tmp_path / "recon.png")))
    margin = labelled.shape[1] - plain.shape[1]
    assert margin > 20 and labelled.shape[0] == plain.shape[0]
    assert (labelled[:, :margin] < 128).any()  # the labels' dark text on the white margin


def test_written_files_are_readable_by_others(tmp_path):
    """Atomic writes go through a private temporary file; the finished file gets the usual umask permissions."""
    import os

    from aevb.atomic import write_text_atomic

    old = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "f.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "f.txt").stat().st_mode & 0o777 == 0o644
