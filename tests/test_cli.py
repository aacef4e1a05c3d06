"""The ``aevb`` command line, end to end on tiny data written to a temporary folder."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from aevb.cli import main
from aevb.config import load_config
from tests.conftest import toy_binary


@pytest.fixture
def toy_npy(tmp_path):
    path = tmp_path / "toy.npy"
    np.save(path, toy_binary(300).x.numpy())
    return path


def _train(toy_npy, out, *extra):
    argv = ["train", "--dataset", str(toy_npy), "--hidden", "32", "--latent-dim", "3", "--epochs", "2"]
    argv += ["--batch-size", "50", "--progress", "false", "--out", str(out), *extra]
    return main(argv)


def test_train_evaluate_sample_reconstruct_encode(toy_npy, tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(toy_npy, run, "--activation", "tanh", "--optimizer", "adagrad", "--lr", "0.05") == 0
    for name in ("config.toml", "model.safetensors", "model.json", "metrics.jsonl", "checkpoints/last.pt"):
        assert (run / name).exists(), name
    cfg = load_config(run / "config.toml")
    assert (cfg.model.hidden, cfg.model.latent_dim, cfg.model.activation) == ([32], 3, "tanh")
    assert (cfg.train.optimizer, cfg.train.lr, cfg.train.epochs) == ("adagrad", 0.05, 2)

    capsys.readouterr()
    assert main(["evaluate", str(run), "--split", "test", "--nll-samples", "50", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"elbo", "nll", "nll_stderr", "n"} <= out.keys()
    assert out["n"] == 30 and out["elbo"] < 0 and out["nll"] > 0
    assert -out["nll"] >= out["elbo"] - 3 * out["nll_stderr"]  # IS estimate of log p(x) is above the ELBO
    # bf16 autocast on 10 evenly spaced points: the same model within bf16's error
    assert main(["evaluate", str(run), "--nll-samples", "50", "--limit", "10", "--precision", "bf16", "--json"]) == 0
    bf16 = json.loads(capsys.readouterr().out)
    assert bf16["n"] == 10 and abs(bf16["nll"] - out["nll"]) < 5
    assert main(["evaluate", str(run), "--nll-estimator", "hmc", "--compile"]) == 2
    assert "compile applies to the importance-sampling estimator" in capsys.readouterr().err
    # --estimator, the old name of --nll-estimator, still works and says so
    with pytest.warns(FutureWarning, match="use --nll-estimator"):
        assert main(["evaluate", str(run), "--estimator", "is", "--nll-samples", "5", "--limit", "4", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["nll_estimator"] == "is"

    assert main(["sample", str(run), "-n", "16", "--out", str(tmp_path / "s.png")]) == 0
    assert Image.open(tmp_path / "s.png").size[0] > 6 * 4
    assert main(["reconstruct", str(run), "--split", "test", "-n", "8", "--out", str(tmp_path / "r.png")]) == 0
    assert Image.open(tmp_path / "r.png").size[1] > 2 * 6
    assert main(["encode", str(run), "--out", str(tmp_path / "z.npz")]) == 0
    z = np.load(tmp_path / "z.npz")
    assert z["mean"].shape == (30, 3) and (z["stddev"] > 0).all()


def test_config_file_with_flag_override(toy_npy, tmp_path):
    toml = tmp_path / "exp.toml"
    toml.write_text(f'[model]\nlatent_dim = 5\nhidden = [16, 16]\n[train]\ndataset = "{toy_npy}"\nepochs = 3\n')
    run = tmp_path / "run"
    assert main(["train", "--config", str(toml), "--epochs", "1", "--progress", "false", "--out", str(run)]) == 0
    cfg = load_config(run / "config.toml")
    assert (cfg.model.latent_dim, cfg.model.hidden, cfg.train.epochs) == (5, [16, 16], 1)


def test_resume_from_cli_continues_a_run(toy_npy, tmp_path):
    run = tmp_path / "run"
    assert _train(toy_npy, run) == 0
    assert main(["train", "--resume", "--out", str(run), "--epochs", "3", "--progress", "false"]) == 0
    epochs = [json.loads(line)["epoch"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert epochs == [1, 2, 3]


def test_existing_run_is_not_overwritten(toy_npy, tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(toy_npy, run) == 0
    before = (run / "model.safetensors").read_bytes()
    assert _train(toy_npy, run) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert (run / "model.safetensors").read_bytes() == before


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--latnet-dim", "3"], "valid flags: .*--latent-dim"),
        (["train", "--dataset", "mnsit", "--out", "x"], "unknown dataset 'mnsit'"),
        (["train", "--activation", "sigmoidish", "--out", "x"], "activation .* choose one of"),
        (["train", "--latent-dim", "three", "--out", "x"], "latent_dim must be of type int"),
        (["train", "--estimator", "C", "--out", "x"], "estimator .* choose one of: A, B"),
        (["train", "--model", "vea", "--out", "x"], "unknown model 'vea'; choose one of: .*vae"),
        (["evaluate", "/nonexistent/run"], "not a run directory"),
    ],
)
def test_bad_input_is_a_clear_error(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("aevb: error:")
    assert __import__("re").search(message, err), err
    assert "Traceback" not in err


def test_unknown_config_key_lists_valid_keys(tmp_path, capsys):
    toml = tmp_path / "bad.toml"
    toml.write_text("[model]\nlatnet_dim = 3\n")
    assert main(["train", "--config", str(toml), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "unknown key(s) 'latnet_dim' in [model]" in err and "latent_dim" in err


def test_missing_data_file_offline_is_a_clear_error(tmp_path, capsys):
    argv = ["train", "--dataset", "binarized-mnist", "--data-dir", str(tmp_path / "empty"), "--download", "false"]
    assert main([*argv, "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "binarized_mnist" in err and "AEVB_DATA_DIR" in err


def test_datasets_lists_known_datasets(capsys):
    assert main(["datasets", "--json"]) == 0
    names = {row["name"] for row in json.loads(capsys.readouterr().out)}
    assert {"mnist", "binarized-mnist", "dynamic-mnist", "fashion-mnist", "frey-faces", "mnist-sample"} <= names


def test_python_dash_m_entry_point():
    out = subprocess.run([sys.executable, "-m", "aevb", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("aevb ")


def test_every_subcommands_help_is_complete_and_says_each_default_once():
    """Each option of each subcommand has help text; no "(default: None)"; no option says its default twice; flags
    that take no value show no default (seen: --mean and --sample both "(default: True)")."""
    import argparse
    import re

    from aevb.cli.parser import build_parser

    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    problems = []
    for name, command in sub.choices.items():
        text = command.format_help()
        problems += [f"{name} {a.option_strings}: no help" for a in command._actions if not a.help]
        problems += [f"{name}: (default: None)"] if "(default: None)" in text else []
        for block in re.split(r"\n  (?=-)", text):
            if block.count("(default:") > 1:
                problems.append(f"{name}: default twice in {block.split()[0]}")
        formatter = command._get_formatter()
        for action in command._actions:
            if action.nargs == 0 and "(default:" in formatter._get_help_string(action):
                problems.append(f"{name} {action.option_strings}: a flag with a shown default")
    assert not problems, "\n".join(problems)
    assert len(sub.choices) >= 20  # the walk saw the commands
