"""Anomaly scores: Likelihood Regret against its closed form in a linear-Gaussian model, the complexity correction,
the shared IS path of nll, bad input, and the score/ood commands end to end."""

import csv
import json
import math

import numpy as np
import pytest
import torch
from torch import nn

import aevb
from aevb.cli import main
from aevb.errors import ConfigError
from aevb.likelihoods import Decoder, GaussianLikelihood
from aevb.names import SCORE_NAMES
from aevb.nets import MLPNet
from aevb.posteriors import DiagonalGaussian, Encoder
from aevb.priors import StandardNormalPrior
from aevb.scoring import DETAIL_FLOOR, ScoreSettings, SharedNoise, auto_score, compressed_bits, detail_energy, score

S2 = 0.5  # p(x|z) = N(z, S2), p(z) = N(0, 1): the exact posterior is N(x / (1 + S2), S2 / (1 + S2))


def _linear_gaussian(exact_encoder: bool) -> aevb.VAE:
    enc = Encoder(MLPNet((1,), [], 2, "relu"), DiagonalGaussian(1))
    dec = Decoder(MLPNet((1,), [], 2, "relu"), GaussianLikelihood((1,), squash_mean=False, min_variance=1e-6))
    with torch.no_grad():
        (dec_layer,) = [m for m in dec.modules() if isinstance(m, nn.Linear)]
        dec_layer.weight.copy_(torch.tensor([[1.0], [0.0]]))
        dec_layer.bias.copy_(torch.tensor([0.0, math.log(S2 - 1e-6)]))
        (enc_layer,) = [m for m in enc.modules() if isinstance(m, nn.Linear)]
        a, c2 = 1 / (1 + S2), S2 / (1 + S2)
        enc_layer.weight.copy_(torch.tensor([[a], [0.0]]) if exact_encoder else torch.zeros(2, 1))
        enc_layer.bias.copy_(torch.tensor([0.0, math.log(c2)]) if exact_encoder else torch.zeros(2))
    return aevb.VAE(enc, dec, StandardNormalPrior(1), (1,)).eval()


def _kl_normal(m1, v1, m2, v2):
    return 0.5 * (v1 / v2 + (m1 - m2) ** 2 / v2 - 1 + torch.log(v2 / v1))


def test_regret_is_the_amortization_gap_in_closed_form():
    x = torch.linspace(-2.5, 2.5, 11)[:, None]
    settings = ScoreSettings(elbo_samples=200_000, regret_steps=1000, regret_lr=0.02)  # bound to ±0.01 nats
    # An encoder that outputs the prior N(0, 1) for every x: the fitted posterior reaches the exact one, so the regret
    # is log p(x) − ELBO(prior as q) = KL(N(0, 1) ‖ p(z|x)).
    wrong = score(_linear_gaussian(False), x, ["regret"], settings=settings)["regret"]
    expected = _kl_normal(torch.zeros(11), torch.ones(11), x[:, 0] / (1 + S2), torch.full((11,), S2 / (1 + S2)))
    torch.testing.assert_close(wrong, expected, atol=0.04, rtol=0.01)
    # The exact posterior as encoder: nothing to gain.
    exact = score(_linear_gaussian(True), x, ["regret"], settings=settings)["regret"]
    assert exact.max() < 0.02


def test_nll_score_is_the_evaluators_importance_sampling():
    model = aevb.build_model(aevb.ModelConfig(latent_dim=2, hidden=[8]), (6,), seed=0)
    x = (torch.rand(20, 6, generator=torch.Generator().manual_seed(0)) < 0.4).float()
    got = score(model, x, ["nll", "elbo", "recon"], settings=ScoreSettings(nll_samples=50), seed=3)
    expected = -aevb.log_likelihood(model, x, 50, noise=SharedNoise(3, 2).draws("nll", 50))
    assert torch.equal(got["nll"], expected)
    assert got["elbo"].mean() > got["nll"].mean()  # −ELBO lies above −log p(x) (on average: both are estimates)
    assert (got["recon"] <= got["elbo"] + 1e-4).all()  # −ELBO = recon + KL with KL ≥ 0


@pytest.mark.parametrize("kind", ["nll", "elbo", "recon", "regret", "complexity", "sqerr", "relerr"])
def test_a_rows_score_depends_on_that_row_alone(kind):
    """Shared posterior noise (common random numbers): a row scores the same alone, in another order, in batches of
    another size, and with other scores asked for in the same call (the regret used to change with all of these)."""
    model = aevb.build_model(aevb.ModelConfig(latent_dim=2, hidden=[8]), (64,), seed=0)  # 8 × 8 images: all apply
    x = (torch.rand(24, 64, generator=torch.Generator().manual_seed(0)) < 0.4).float()
    fast = dict(nll_samples=20, elbo_samples=8, regret_steps=15)
    full = score(model, x, [kind], settings=ScoreSettings(**fast), seed=5)[kind]
    order = torch.randperm(24, generator=torch.Generator().manual_seed(1))
    shuffled = score(model, x[order], [kind], settings=ScoreSettings(**fast, batch_size=7), seed=5)[kind]
    torch.testing.assert_close(shuffled, full[order], rtol=1e-5, atol=1e-5)
    alone = score(model, x[3:4], [kind], settings=ScoreSettings(**fast), seed=5)[kind]
    torch.testing.assert_close(alone, full[3:4], rtol=1e-5, atol=1e-5)
    together = score(model, x, list(SCORE_NAMES), settings=ScoreSettings(**fast), seed=5)
    torch.testing.assert_close(together[kind], full, rtol=1e-5, atol=1e-5)
    other_seed = score(model, x, [kind], settings=ScoreSettings(**fast), seed=6)[kind]
    # the seed matters to the Monte Carlo estimates; sqerr and relerr use the posterior mean and no noise
    assert torch.equal(other_seed, full) if kind in ("sqerr", "relerr") else not torch.allclose(other_seed, full)


def test_sqerr_is_the_squared_distance_to_the_reconstruction():
    model = aevb.build_model(aevb.ModelConfig(latent_dim=2, hidden=[8]), (6,), seed=0).eval()
    x = (torch.rand(10, 6, generator=torch.Generator().manual_seed(0)) < 0.4).float()
    expected = ((x - model.reconstruct(x)) ** 2).sum(-1)
    torch.testing.assert_close(score(model, x, ["sqerr"])["sqerr"], expected)


def test_relerr_divides_the_squared_error_by_the_images_gradient_energy():
    model = aevb.build_model(aevb.ModelConfig(latent_dim=2, hidden=[8]), (1, 3, 3), seed=0).eval()
    x = torch.tensor([[[[0.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 1.0, 0.0]]], [[[0.5] * 3] * 3]])
    # a vertical bar: 3 rows × 2 horizontal steps of size 1, no vertical step → ‖∇x‖² = 6; a flat image: 0
    energy = detail_energy(x, (1, 3, 3))
    torch.testing.assert_close(energy, torch.tensor([6.0, 0.0]))
    sqerr = ((x - model.reconstruct(x)) ** 2).flatten(1).sum(-1)
    got = score(model, x, ["relerr"])["relerr"]
    torch.testing.assert_close(got, sqerr / (energy + DETAIL_FLOOR))
    assert got[1] > 100 * got[0]  # the flat image's error has no detail to be explained by: far more anomalous
    # the same numbers for flat rows of a square size; tables are refused with what applies instead
    flat = aevb.build_model(aevb.ModelConfig(latent_dim=2, hidden=[8]), (64,), seed=0).eval()
    rows = torch.rand(4, 64, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(detail_energy(rows, (64,)), detail_energy(rows.reshape(4, 1, 8, 8), (1, 8, 8)))
    table = aevb.build_model(aevb.ModelConfig(latent_dim=2, hidden=[8]), (6,), seed=0)
    with pytest.raises(ConfigError, match="not images .* use sqerr"):
        score(table, torch.rand(3, 6), ["relerr"])
    assert auto_score((1, 28, 28)) == "relerr" == auto_score((784,))
    assert auto_score((6,)) == auto_score((16,)) == "nll"
    assert score(flat, rows, ["auto"]).keys() == {"relerr"}


def test_complexity_subtracts_the_png_length_in_bits():
    flat = torch.zeros(1, 1, 28, 28)
    noise = (torch.rand(1, 1, 28, 28, generator=torch.Generator().manual_seed(0)) < 0.5).float()
    bits = compressed_bits(torch.cat([flat, noise]), (1, 28, 28))
    assert bits[0] < bits[1] and bits[1] > 8 * 98  # 784 random bits do not compress below ~98 bytes
    model = aevb.build_model(aevb.ModelConfig(latent_dim=2, hidden=[8]), (1, 28, 28), seed=0)
    x = torch.cat([flat, noise])
    s = score(model, x, ["nll", "complexity"], settings=ScoreSettings(nll_samples=10))
    torch.testing.assert_close(s["complexity"], s["nll"] / math.log(2) - bits)
    table = compressed_bits(torch.randn(3, 30), (30,))  # not images: zlib of the float32 bytes
    assert table.shape == (3,) and (table > 8 * 30 * 4 * 0.8).all()


def test_bad_input_names_what_was_wrong():
    model = aevb.build_model(aevb.ModelConfig(latent_dim=2, hidden=[8]), (6,), seed=0)
    with pytest.raises(aevb.DataError, match=r"shape \[N, 6\]"):
        score(model, torch.zeros(4, 7))
    x = torch.zeros(30, 6)
    x[[3, 17], 2] = float("nan")
    with pytest.raises(aevb.DataError, match="rows 3, 17 hold NaN or inf"):
        score(model, x, ["recon"])
    with pytest.raises(aevb.ConfigError, match="unknown anomaly score 'likelihood'"):
        score(model, torch.zeros(4, 6), ["likelihood"])


def test_score_and_ood_commands(tmp_path, capsys):
    rng = np.random.default_rng(0)
    inlier = (rng.random((300, 16)) < np.linspace(0.05, 0.95, 16)).astype(np.float32)
    np.save(tmp_path / "in.npy", inlier)
    np.save(tmp_path / "out.npy", (rng.random((60, 16)) < 0.5).astype(np.float32))
    run = tmp_path / "run"
    argv = ["train", "--dataset", str(tmp_path / "in.npy"), "--latent-dim", "2", "--hidden", "16", "--epochs", "40"]
    assert main([*argv, "--batch-size", "30", "--out", str(run), "--progress", "false"]) == 0
    fast = ["--nll-samples", "20", "--elbo-samples", "4", "--regret-steps", "20"]
    assert main(["score", str(run), "--out", str(tmp_path / "s.csv"), "--score", "nll,regret", *fast]) == 0
    rows = list(csv.DictReader((tmp_path / "s.csv").read_text().splitlines()))
    assert len(rows) == 300 and list(rows[0]) == ["index", "split", "nll", "regret"]  # the user's file: every row
    assert [r["index"] for r in rows] == [str(i) for i in range(300)] and rows[0]["split"] == "all"
    assert main(["score", str(run), "--out", str(tmp_path / "l.csv"), "--score", "nll", "--limit", "4", *fast]) == 0
    limited = list(csv.DictReader((tmp_path / "l.csv").read_text().splitlines()))
    assert [r["index"] for r in limited] == ["0", "100", "199", "299"]  # rows of the file, evenly spaced
    # the held-out split on request: 30 rows, each indexed by its row in the file, and scored as in the whole file
    capsys.readouterr()
    assert main(["score", str(run), "--split", "test", "--out", str(tmp_path / "t.csv"), "--score", "nll", *fast]) == 0
    held_out = list(csv.DictReader((tmp_path / "t.csv").read_text().splitlines()))
    assert len(held_out) == 30 and {r["split"] for r in held_out} == {"test"}
    assert "30 rows of split 'test'" in capsys.readouterr().out  # what was scored, said where it is written
    assert main(["score", str(run), "--split", "validation", "--out", str(tmp_path / "v.csv")]) == 2
    err = capsys.readouterr().err
    assert "its splits are all, train, test (test: the rows held out" in err and "got 'validation'" in err
    # the same split named in the spec, under an alias: the same rows and file indices
    spec = ["--data", f"{tmp_path / 'in.npy'}:eval", "--out", str(tmp_path / "e.csv"), "--score", "nll", *fast]
    assert main(["score", str(run), *spec]) == 0
    aliased = list(csv.DictReader((tmp_path / "e.csv").read_text().splitlines()))
    assert [(r["index"], r["split"]) for r in aliased] == [(r["index"], "test") for r in held_out]
    whole = {r["index"]: float(r["nll"]) for r in rows}
    # same rows, same scores (shared noise): exactly on the CPU; on a GPU to float32 rounding, which may vary with the
    # batch's shape (cuBLAS picks kernels by shape)
    tolerance = 1e-5 if torch.cuda.is_available() else 0.0
    assert all(math.isclose(whole[r["index"]], float(r["nll"]), rel_tol=tolerance) for r in held_out)
    # the training file as the in-set: its training rows make the metrics optimistic, and the command says so
    with pytest.warns(UserWarning, match="is the file this run was trained on.*:test scores only the rows held out"):
        assert main(["ood", str(run), "--in", str(tmp_path / "in.npy"), "--out", str(tmp_path / "out.npy"), *fast]) == 0
    capsys.readouterr()
    assert main(["ood", str(run), "--out", str(tmp_path / "out.npy"), "--json", *fast]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert set(summary["metrics"]) == {"nll", "elbo", "recon", "regret", "complexity", "sqerr"}
    assert summary["metrics"]["nll"]["auroc"] > 0.8  # uniform bits are far less likely than the skewed training bits
    for name in ("roc.png", "hist_regret.png", "ood.json", "top_regret.csv"):
        assert (run / "ood" / name).is_file()
    top = list(csv.DictReader((run / "ood" / "top_nll.csv").read_text().splitlines()))
    assert len(top) == 16 and [float(r["score"]) for r in top] == sorted((float(r["score"]) for r in top), reverse=True)
    assert (run / "ood" / "top_nll.png").is_file()  # 16 values per row draw as 4 × 4 images
    assert main(["report", str(run)]) == 0
    assert "Out-of-distribution" in (run / "report.html").read_text()
    # wrong shape: a clear error naming the model's input shape
    np.save(tmp_path / "wide.npy", np.zeros((50, 17), dtype=np.float32))
    assert main(["score", str(run), "--data", str(tmp_path / "wide.npy")]) == 2
    assert "(16,)" in capsys.readouterr().err


def test_a_users_file_is_scored_row_for_row_and_training_says_what_it_holds_out(tmp_path, capsys):
    """The issue's acceptance: `aevb score` on a 2,000-row file writes 2,000 rows indexed 0 … 1,999; `aevb train`
    says how many rows it holds out and how to change that; --test-fraction 0 trains on every row."""
    rows = (np.random.default_rng(1).random((2000, 8)) < 0.3).astype(np.float32)
    np.save(tmp_path / "rows.npy", rows)
    argv = ["train", "--dataset", str(tmp_path / "rows.npy"), "--latent-dim", "2", "--hidden", "8", "--epochs", "1"]
    assert main([*argv, "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "holds 2000 rows; training on 1800, holding out 200 (10%, seeded) as the test split" in out
    assert "--test-fraction" in out
    fast = ["--nll-samples", "4", "--score", "nll"]
    assert main(["score", str(tmp_path / "run"), "--out", str(tmp_path / "s.csv"), *fast]) == 0
    scored = list(csv.DictReader((tmp_path / "s.csv").read_text().splitlines()))
    assert [int(r["index"]) for r in scored] == list(range(2000))
    default = ["score", str(tmp_path / "run"), "--nll-samples", "4", "--limit", "5", "--out", str(tmp_path / "a.csv")]
    assert main(default) == 0
    assert (tmp_path / "a.csv").read_text().splitlines()[0] == "index,split,nll"  # auto: a table → nll
    assert main([*argv, "--test-fraction", "0", "--out", str(tmp_path / "all")]) == 0
    assert "training on all 2000 rows" in capsys.readouterr().out
    assert main([*argv, "--test-fraction", "1.5", "--out", str(tmp_path / "bad")]) == 2
    assert "test_fraction must lie in [0, 1)" in capsys.readouterr().err
    assert main([*argv, "--test-fraction", "0.9996", "--out", str(tmp_path / "one")]) == 2
    assert "holds out 1999 of them, leaving 1 to train on; training needs at least 2" in capsys.readouterr().err
    assert not (tmp_path / "one").exists()  # refused before the run directory is made


def test_histogram_axis_keeps_the_bulk_visible():
    from aevb.runs.scores import histogram_range

    values = np.r_[np.random.default_rng(0).normal(0, 1, 1000), [1e6, 2e6]]  # two inputs far outside the data
    lo, hi, beyond = histogram_range(values)
    assert -4 < lo < -2 and 2 < hi < 4 and 8 <= beyond <= 12  # ~0.5 % in each tail, the two extremes among them
    assert histogram_range(np.zeros(5))[:2] == (-0.5, 0.5)


def test_detection_metrics_on_known_orderings():
    from aevb.runs.scores import detection_metrics

    inlier, outlier = np.arange(100.0), np.arange(100.0, 200.0)
    assert detection_metrics(inlier, outlier) == {"auroc": 1.0, "auprc": 1.0, "fpr_at_95_tpr": 0.0}
    assert detection_metrics(outlier, inlier)["auroc"] == 0.0
    # outliers 50..149 over inliers 0..99: 95 % TPR needs the threshold at 55, which 45 inliers (55..99) pass
    m = detection_metrics(inlier, np.linspace(50, 149, 100))
    assert m["fpr_at_95_tpr"] == 0.45 and 0.5 < m["auroc"] < 1


def test_a_row_the_arithmetic_overflows_on_scores_inf_not_nan():
    # A row 10³⁰ from the data overflows the posterior's variance in float32; NaN would sort arbitrarily.
    model = aevb.build_model(aevb.ModelConfig(latent_dim=2, hidden=[8], likelihood="gaussian"), (6,), seed=0)
    x = torch.zeros(4, 6)
    x[1, 2], x[3, 0], x[2] = 1e30, 1e20, 0.5
    with pytest.warns(RuntimeWarning, match=r"overflowed on 2 rows \(first: 1, 3; their largest \|x\| is 1e\+30"):
        out = score(model, x, ["nll", "regret"], settings=ScoreSettings(regret_steps=2))
    alone = score(model, x[[0, 2]], ["nll", "regret"], settings=ScoreSettings(regret_steps=2))
    for name, scores in out.items():
        assert not scores.isnan().any() and scores[[1, 3]].isinf().all()
        torch.testing.assert_close(scores[[0, 2]], alone[name])  # the ordinary rows keep their scores
