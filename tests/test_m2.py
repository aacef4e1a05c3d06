"""M2 (Kingma et al. 2014): the unlabelled bound is the explicit sum over classes, hidden labels never reach the loss,
an M2 run resumes exactly, and evaluation reports the classifier's test error."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.distributions import Independent, Normal, kl_divergence

from aevb import ConfigError, ModelConfig, TensorData, TrainConfig, build_model
from aevb.cli import main
from aevb.data.labels import labelled_indices
from aevb.evaluation import evaluate
from aevb.training.trainer import Trainer
from tests.conftest import toy_binary

CONFIG = ModelConfig(model="m2", latent_dim=3, hidden=[16], num_classes=4)
SHAPE = (1, 6, 6)


def _z_blind_model() -> torch.nn.Module:
    """An M2 whose decoder ignores z and leans hard on y: every bound is deterministic and depends on the label."""
    torch.manual_seed(0)
    model = build_model(CONFIG, SHAPE)
    first = next(m for m in model.decoder.net.modules() if isinstance(m, torch.nn.Linear))
    with torch.no_grad():
        first.weight[:, : CONFIG.latent_dim] = 0.0
        first.weight[:, CONFIG.latent_dim :] *= 20.0
    return model


def test_labelled_bound_is_the_conditional_elbo_plus_log_prior_of_y():
    model = _z_blind_model()
    x = toy_binary(5, side=6).x
    c = model.make_context(torch.tensor([0, 1, 2, 3, 1]))
    q = model.encode(x, c)
    by_hand = (
        model.decode(q.mean, c).log_prob(x)  # the decoder ignores z: any z gives E_q[log p(x|y,z)]
        - kl_divergence(q, Independent(Normal(torch.zeros(3), torch.ones(3)), 1))
        - math.log(4)
    )
    torch.testing.assert_close(model.labelled_bound(x, c), by_hand)


def test_unlabelled_bound_is_the_explicit_sum_over_classes():
    model = _z_blind_model()
    x = toy_binary(6, side=6).x
    per_class = torch.stack([model.labelled_bound(x, model.label_context(k, 6)) for k in range(4)], dim=-1)  # [B, C]
    assert (per_class.max(-1).values - per_class.min(-1).values).min() > 1.0  # the labels matter to the bound
    q = model.classify(x).probs
    by_hand = (q * per_class).sum(-1) - (q * q.log()).sum(-1)
    torch.testing.assert_close(model.unlabelled_bound(x), by_hand)
    assert (model.unlabelled_bound(x) <= per_class.logsumexp(-1) + 1e-5).all()  # −U(x) ≤ log Σ_y exp(−L(x, y))


def test_contexts_mark_unlabelled_points_with_zero_rows_and_refuse_other_labels():
    model = build_model(CONFIG, SHAPE)
    c = model.make_context(torch.tensor([2, -1]))
    assert c.tolist() == [[0, 0, 1, 0], [0, 0, 0, 0]]
    with pytest.raises(Exception, match="or be -1 for an unlabelled datapoint"):
        model.make_context(torch.tensor([4]))


def test_labelled_indices_are_balanced_seeded_and_checked():
    y = np.repeat(np.arange(4), 30)
    keep = labelled_indices(y, per_class=5, seed=3)
    assert np.bincount(y[keep]).tolist() == [5, 5, 5, 5]
    assert np.array_equal(keep, labelled_indices(y, per_class=5, seed=3))
    assert len(labelled_indices(y, count=7, seed=0)) == 7
    with pytest.raises(Exception, match="exactly one of labels_per_class and labeled"):
        labelled_indices(y)


def _trainer(data: TensorData, **kw) -> Trainer:
    torch.manual_seed(0)
    model = build_model(CONFIG, SHAPE)
    fields = dict(objective="m2", labels_per_class=5, epochs=2, batch_size=32, lr=3e-3, seed=0, progress=False)
    return Trainer(model, data, TrainConfig(**{**fields, **kw}), test=toy_binary(64, seed=1))


def test_hidden_labels_never_reach_the_loss():
    # --labeled K picks K points without looking at any label, so permuting the others keeps the same subset.
    # (--labels-per-class must read every label to balance the classes; that is the choice, not the training.)
    data = toy_binary(256)
    keep = labelled_indices(data.y.numpy(), count=20, seed=0)
    hidden = np.setdiff1d(np.arange(256), keep)
    shuffled = data.y.clone()
    shuffled[hidden] = shuffled[hidden][torch.randperm(len(hidden), generator=torch.Generator().manual_seed(7))]
    assert not torch.equal(shuffled, data.y)
    a = _trainer(data, labels_per_class=0, labeled=20)
    b = _trainer(TensorData(data.x, shuffled, "toy"), labels_per_class=0, labeled=20)
    a.fit(), b.fit()
    for k, v in a.model.state_dict().items():
        assert torch.equal(v, b.model.state_dict()[k]), k
    changed = shuffled.clone()
    changed[keep] = (changed[keep] + 1) % 4  # the kept labels changed: training changes
    c = _trainer(TensorData(data.x, changed, "toy"), labels_per_class=0, labeled=20)
    c.fit()
    assert not all(torch.equal(v, c.model.state_dict()[k]) for k, v in a.model.state_dict().items())


def test_an_m2_run_resumes_exactly(tmp_path):
    data = toy_binary(256)
    argv = ["train", "--dataset", str(tmp_path / "toy.npz"), "--model", "m2", "--objective", "m2", "--num-classes", "4"]
    argv += ["--latent-dim", "3", "--hidden", "16", "--labels-per-class", "5", "--batch-size", "32", "--lr", "3e-3"]
    argv += ["--progress", "false", "--out", str(tmp_path / "run"), "--checkpoint-steps", "5", "--eval-every", "0"]
    np.savez(tmp_path / "toy.npz", x=data.x.numpy(), y=data.y.numpy())
    assert main([*argv, "--epochs", "1"]) == 0
    assert main([*argv, "--epochs", "3", "--resume"]) == 0
    once = [*argv[:-4], "--eval-every", "0", "--out", str(tmp_path / "once"), "--epochs", "3"]
    assert main(once) == 0
    resumed, straight = (
        torch.load(tmp_path / d / "checkpoints" / "last.pt", weights_only=True) for d in ("run", "once")
    )
    for k, v in straight["model"].items():
        assert torch.equal(v, resumed["model"][k]), k


def test_evaluation_reports_the_classifier_error_and_config_pairs_model_with_objective(capsys):
    data = toy_binary(256)
    trainer = _trainer(data, epochs=4, labels_per_class=20)
    result = trainer.fit()
    assert 0.0 <= result.history[-1]["test_error"] <= 1.0
    ev = evaluate(trainer.model, data.x, context=trainer.model.make_context(data.y))
    assert ev.classification_error is not None and ev.classification_error < 0.5  # 4 prototypes: learnable
    assert main(["train", "--model", "m2", "--objective", "elbo", "--out", "/nonexistent/never"]) == 2
    assert "the m2 model trains with --objective m2" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="labels_per_class or labeled, not both"):
        TrainConfig(labels_per_class=1, labeled=3)


def test_m1_plus_m2_trains_m2_on_the_posterior_means_of_an_m1_run(tmp_path, capsys, monkeypatch):
    import json

    from aevb.config import load_config

    data = toy_binary(200)
    np.savez(tmp_path / "toy.npz", x=data.x.numpy(), y=data.y.numpy())
    common = ["--dataset", str(tmp_path / "toy.npz"), "--epochs", "2", "--progress", "false", "--batch-size", "32"]
    assert main(["train", *common, "--latent-dim", "5", "--hidden", "16", "--out", str(tmp_path / "m1")]) == 0
    monkeypatch.chdir(tmp_path)  # --features given relative to here ...
    m2 = ["train", *common, "--features", "m1", "--model", "m2", "--objective", "m2"]
    m2 += ["--num-classes", "4", "--likelihood", "gaussian", "--latent-dim", "2", "--hidden", "8"]
    assert main([*m2, "--labels-per-class", "5", "--out", str(tmp_path / "m2")]) == 0
    assert load_config(tmp_path / "m2" / "config.toml").train.features == str(tmp_path.resolve() / "m1")
    monkeypatch.chdir(tmp_path / "m1")  # ... and the run is read from elsewhere
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "m2"), "--nll-samples", "0", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["data_dim"] == 5 and 0.0 <= out["classification_error"] <= 1.0  # M2 read M1's 5-d means
    # generated data of the stacked model are pixels: M2's z1 decoded by M1's p(x|z1)
    assert main(["augment", str(tmp_path / "m2"), "--per-class", "3", "--out", str(tmp_path / "aug.npz")]) == 0
    assert "through the decoder of" in capsys.readouterr().out
    aug = np.load(tmp_path / "aug.npz")
    assert aug["x"].shape == (12, *data.x.shape[1:]) and list(aug["y"]) == [0] * 3 + [1] * 3 + [2] * 3 + [3] * 3
    from aevb.runs import load

    m1, m2 = load(tmp_path / "m1"), load(tmp_path / "m2")
    torch.manual_seed(0)
    with torch.no_grad():
        expected = m1.decode(m2.sample(12, m2.make_context(torch.from_numpy(aug["y"])))).mean
    np.testing.assert_allclose(aug["x"], expected.numpy(), atol=1e-6)


def test_the_objective_estimates_j_alpha_per_datapoint():
    """mean over the minibatch = (N_u/N)·mean_u(−U) + (N_l/N)·mean over the drawn labelled batch of (−L + α log q)."""
    from aevb.training.objectives import M2Objective

    model = _z_blind_model()
    data = toy_binary(40)
    y = data.y.clone()
    y[10:] = -1  # 10 labelled, 30 unlabelled
    fields = {"model": model, "x": data.x, "x_scale": None, "train_data": data, "context": model.make_context(y)}
    run = type("Run", (), fields)()
    objective = M2Objective(TrainConfig(objective="m2", m2_labelled_batch=4))
    objective.bind(run)
    assert objective.alpha == pytest.approx(0.1 * 40)
    batch = data.x[20:28]  # 8 unlabelled points
    torch.manual_seed(5)
    value = objective(model, batch, run.context[20:28]).mean()
    torch.manual_seed(5)
    unlabelled = model.unlabelled_bound(batch).mean()  # first, as the objective does: it draws z before the pick
    pick = torch.randint(10, (4,))
    xl, cl = data.x[:10][pick], run.context[:10][pick]
    labelled = (model.labelled_bound(xl, cl) + 4.0 * model.classify(xl).log_prob(cl.argmax(-1))).mean()
    expected = (30 / 40) * unlabelled + (10 / 40) * labelled
    torch.testing.assert_close(value, expected)


def test_m1_plus_m2_can_train_on_fresh_draws_of_the_m1_posterior(tmp_path):
    from aevb.runs import load
    from aevb.runs.rundir import load_data

    data = toy_binary(200)
    np.savez(tmp_path / "toy.npz", x=data.x.numpy(), y=data.y.numpy())
    common = ["--dataset", str(tmp_path / "toy.npz"), "--epochs", "1", "--progress", "false", "--batch-size", "32"]
    assert main(["train", *common, "--latent-dim", "5", "--hidden", "16", "--out", str(tmp_path / "m1")]) == 0
    with pytest.raises(ConfigError, match="give features too"):
        TrainConfig(features_sample=True)
    cfg = TrainConfig(dataset=str(tmp_path / "toy.npz"), features=str(tmp_path / "m1"), features_sample=True)
    features = load_data(cfg, "train")
    with torch.no_grad():
        q = load(tmp_path / "m1").encode(load_data(TrainConfig(dataset=cfg.dataset), "train").x)
    torch.testing.assert_close(features.x, q.mean)
    torch.testing.assert_close(features.x_scale, q.stddev)
    rows = torch.arange(3)
    gen = torch.Generator().manual_seed(0)
    draws = torch.stack([features.transform_batch(features.x[rows], gen, features.x_scale[rows]) for _ in range(4000)])
    torch.testing.assert_close(draws.mean(0), features.x[rows], atol=0.1, rtol=0)
    torch.testing.assert_close(draws.std(0) / features.x_scale[rows], torch.ones(3, 5), atol=0.06, rtol=0)
    # the draws come from the data RNG that checkpoints keep: an interrupted M1+M2 run resumes exactly
    m2 = ["train", *common, "--features", str(tmp_path / "m1"), "--features-sample", "true", "--model", "m2"]
    m2 += ["--objective", "m2", "--num-classes", "4", "--likelihood", "gaussian", "--latent-dim", "2", "--hidden", "8"]
    m2 += ["--labels-per-class", "5", "--eval-every", "0", "--checkpoint-steps", "3"]
    assert main([*m2, "--out", str(tmp_path / "a")]) == 0
    assert main([*m2, "--out", str(tmp_path / "a"), "--epochs", "2", "--resume"]) == 0
    assert main([*[a if a != "1" else "2" for a in m2], "--out", str(tmp_path / "b")]) == 0
    a, b = (torch.load(tmp_path / d / "checkpoints" / "last.pt", weights_only=True)["model"] for d in ("a", "b"))
    assert all(torch.equal(v, a[k]) for k, v in b.items())
    means = ["train", *common, "--features", str(tmp_path / "m1"), *m2[m2.index("--model") :]]
    assert main([*means, "--epochs", "2", "--out", str(tmp_path / "c")]) == 0
    c = torch.load(tmp_path / "c" / "checkpoints" / "last.pt", weights_only=True)["model"]
    assert not all(torch.equal(v, c[k]) for k, v in b.items())  # draws, not means, reached the model


def test_conditional_linear_is_the_linear_map_of_the_concatenation_broadcast_both_ways():
    from aevb.nets import conditional_linear

    torch.manual_seed(6)
    layer = torch.nn.Linear(7 + 3, 5)
    h, context = torch.randn(1, 4, 7), torch.randn(3, 4, 3)  # h shared by 3 contexts, as in M2's unlabelled bound
    by_hand = layer(torch.cat([h.expand(3, 4, 7), context], -1))
    torch.testing.assert_close(conditional_linear(layer, h, context, 3), by_hand)
    samples = torch.randn(2, 4, 7)  # posterior samples [S, B] against a context [B]
    by_hand = layer(torch.cat([samples, context[0].expand(2, 4, 3)], -1))
    torch.testing.assert_close(conditional_linear(layer, samples, context[0], 3), by_hand)
    with pytest.raises(ValueError, match="pass a context"):
        conditional_linear(layer, h, None, 3)


def test_m2_draws_its_labelled_minibatch_too_when_the_examples_are_gaussians():
    data = toy_binary(96)
    gaussians = TensorData(data.x, data.y, "toy", x_scale=torch.full_like(data.x, 0.3))
    torch.manual_seed(0)
    model = build_model(ModelConfig(model="m2", latent_dim=3, hidden=[16], num_classes=4, likelihood="gaussian"), SHAPE)
    config = TrainConfig(objective="m2", labels_per_class=5, epochs=1, batch_size=32, eval_every=0, progress=False)
    trainer = Trainer(model, gaussians, config)
    seen, labelled = [], trainer.objective._labelled
    trainer.objective._labelled = lambda model, x, c: seen.append(x.detach().clone()) or labelled(model, x, c)
    trainer.fit()
    means = trainer.objective.labelled_x.flatten(1)
    assert len(seen) == 3
    for x in seen:
        gap = (x.flatten(1)[:, None] - means[None]).abs().amax(-1)  # [picked, labelled]: worst pixel's distance
        assert (gap > 0).all()  # no labelled input is a mean ...
        assert (gap.amin(1) < 5 * 0.3).all()  # ... each is a draw around one of them


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_the_broadcast_unlabelled_pass_equals_the_bound_of_every_copy(arch):
    # x [1, B] meets the labels [C, B, C] by broadcasting; the reference copies x once per label (the same draws:
    # both take one [S, C·B, d] block of noise, class-major).
    torch.manual_seed(7)
    model = build_model(ModelConfig(model="m2", latent_dim=3, hidden=[8], num_classes=4, arch=arch), SHAPE)
    x = toy_binary(5, side=6).x
    copies = x.repeat(4, 1, 1, 1)
    labels = torch.eye(4).repeat_interleave(5, dim=0)
    torch.manual_seed(1)
    per_class = model.labelled_bound(copies, labels, 2).reshape(4, 5).T
    q = model.classify(x).probs
    torch.manual_seed(1)
    torch.testing.assert_close(model.unlabelled_bound(x, 2), (q * per_class).sum(-1) - (q * q.log()).sum(-1))
