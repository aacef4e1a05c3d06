"""The training loop: it learns, it is deterministic, resume is exact, and bad states stop it cleanly."""

from __future__ import annotations

import dataclasses
import json
import math
import shutil

import pytest
import torch

from aevb import ConfigError, DataError, ModelConfig, TensorData, TrainConfig, TrainingError, build_model, load_model
from aevb.training.checkpoint import load_checkpoint
from aevb.training.trainer import Trainer
from tests.conftest import toy_binary

MODEL = ModelConfig(latent_dim=4, hidden=[32], activation="tanh")


def _cfg(**kw) -> TrainConfig:
    base = dict(epochs=3, batch_size=32, lr=3e-3, seed=0, progress=False, eval_every=1)
    base.update(kw)
    return TrainConfig(**base)


def _trainer(run_dir=None, data=None, **kw) -> Trainer:
    torch.manual_seed(0)
    data = data or toy_binary()
    model = build_model(MODEL, data.event_shape)
    return Trainer(model, data, _cfg(**kw), test=toy_binary(64, seed=1), run_dir=run_dir)


def _weights(model) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_training_improves_the_bound(tmp_path):
    result = _trainer(tmp_path, epochs=8).fit()
    bounds = [r["train_bound"] for r in result.history]
    assert bounds[-1] > bounds[0] + 5, bounds
    assert result.history[-1]["test_elbo"] > result.history[0]["test_elbo"]
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == list(range(1, 9))
    assert (tmp_path / "model.safetensors").exists() and (tmp_path / "checkpoints" / "last.pt").exists()


def test_same_seed_same_weights():
    a, b = _trainer(), _trainer()
    a.fit(), b.fit()
    for k, v in _weights(a.model).items():
        assert torch.equal(v, b.model.state_dict()[k])


def test_resume_mid_epoch_reaches_the_same_weights(tmp_path):
    full = _trainer(tmp_path / "full")
    full.fit()

    part = _trainer(tmp_path / "part")
    step = part.train_step

    def stop_after_13(xb, cb):  # interrupt (as Ctrl-C does) in the middle of the second epoch
        out = step(xb, cb)
        if part.step + 1 == 13:
            part.stop_requested = True
        return out

    part.train_step = stop_after_13
    result = part.fit()
    assert result.interrupted and result.step == 13
    assert load_checkpoint(tmp_path / "part" / "checkpoints")["step"] == 13

    resumed = _trainer(tmp_path / "part")
    resumed.resume()
    resumed.fit()
    for k, v in _weights(full.model).items():
        assert torch.equal(v, resumed.model.state_dict()[k]), k
    hist = [json.loads(line) for line in (tmp_path / "part" / "metrics.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in hist] == [1, 2, 3]
    assert [{k: v for k, v in h.items() if k != "epoch_seconds"} for h in hist] == [
        {k: v for k, v in h.items() if k != "epoch_seconds"} for h in full.history
    ]


def test_a_step_budget_stops_mid_epoch_and_the_weights_are_the_first_steps_of_a_longer_run(tmp_path):
    # toy_binary() has 256 points: 8 steps of 32 per epoch; a budget of 13 ends in the middle of the second epoch
    budget = _trainer(tmp_path / "budget", steps=13)
    result = budget.fit()
    assert result.step == 13 and not result.interrupted
    assert [r["step"] for r in result.history] == [8, 13] and "test_elbo" in result.history[-1]
    assert (tmp_path / "budget" / "model.safetensors").exists()

    longer = _trainer()
    step = longer.train_step

    def stop_after_13(xb, cb):
        out = step(xb, cb)
        longer.stop_requested = longer.step + 1 == 13
        return out

    longer.train_step = stop_after_13
    longer.fit()
    for k, v in _weights(longer.model).items():
        assert torch.equal(v, budget.model.state_dict()[k]), k


def test_resume_extends_a_finished_run(tmp_path):
    full = _trainer(tmp_path / "full", epochs=4)
    full.fit()
    short = _trainer(tmp_path / "short", epochs=2)
    short.fit()
    longer = _trainer(tmp_path / "short", epochs=4)
    longer.resume()
    longer.fit()
    saved = load_model(tmp_path / "short")
    for k, v in full.model.state_dict().items():
        assert torch.equal(v.cpu(), saved.state_dict()[k]), k  # saved models load on the CPU


def test_non_finite_loss_stops_with_epoch_and_step_and_keeps_checkpoint(tmp_path):
    t = _trainer(tmp_path, epochs=3)
    objective = t.objective

    def poisoned(model, x, c=None):
        bound = objective(model, x, c)
        return bound * float("nan") if t.epoch == 1 and t.batch_index == 2 else bound

    t.objective = poisoned
    with pytest.raises(TrainingError, match=r"epoch 2, step 11"):
        t.fit()
    assert load_checkpoint(tmp_path / "checkpoints")["step"] == 8  # the end of epoch 1, the last good state


def test_wrong_input_dimension_is_a_clear_error():
    model = build_model(MODEL, (1, 6, 6))
    with pytest.raises(DataError, match=r"wrong input dimension.*\(1, 6, 6\).*\(1, 5, 5\)"):
        Trainer(model, TensorData(torch.rand(10, 1, 5, 5)), _cfg())


def test_nan_in_data_is_a_clear_error():
    x = torch.rand(10, 1, 6, 6).round()
    x[3, 0, 2, 2] = float("nan")
    with pytest.raises(DataError, match="NaN"):
        Trainer(build_model(MODEL, (1, 6, 6)), TensorData(x), _cfg())


def test_values_outside_unit_interval_with_bernoulli_is_a_clear_error():
    x = torch.rand(10, 1, 6, 6) * 255
    with pytest.raises(DataError, match=r"\[0, ?1\]"):
        Trainer(build_model(MODEL, (1, 6, 6)), TensorData(x), _cfg())


def test_gaussian_likelihood_accepts_real_values():
    cfg = ModelConfig(latent_dim=2, hidden=[16], likelihood="gaussian", squash_mean=False)
    x = torch.randn(64, 5) * 3
    history = Trainer(build_model(cfg, (5,)), TensorData(x), _cfg(epochs=3, eval_every=0)).fit().history
    # Real-valued data outside [0, 1] is accepted and fitted: a finite bound that improves.
    assert all(math.isfinite(h["train_bound"]) for h in history)
    assert history[-1]["train_bound"] > history[0]["train_bound"]


def test_empty_dataset_is_a_clear_error():
    with pytest.raises(DataError, match="empty"):
        Trainer(build_model(MODEL, (1, 6, 6)), TensorData(torch.zeros(0, 1, 6, 6)), _cfg())


def test_iwae_schedule_matches_the_paper():
    from aevb.training.schedules import SCHEDULES

    iwae = SCHEDULES.get("iwae")
    lrs = [iwae(1e-3, e) for e in range(3280)]
    # Pass i lasts 3^i epochs at 1e-3 · 10^(−i/7): 1, 3, 9, ..., 2187 epochs; 3280 in all.
    starts = [0, 1, 4, 13, 40, 121, 364, 1093]
    for i, s in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else 3280
        assert all(abs(lr - 1e-3 * 10 ** (-i / 7)) < 1e-15 for lr in lrs[s:end]), i


def test_lr_schedule_is_applied_per_epoch():
    t = _trainer(epochs=2, lr_schedule="iwae", lr=1e-2)
    t.fit()
    assert t.optimizer.param_groups[0]["lr"] == pytest.approx(1e-2 * 10 ** (-1 / 7))


def test_allocator_tuning_is_opt_out(monkeypatch):
    from aevb import runtime

    monkeypatch.setattr(runtime, "_tuned", False)
    monkeypatch.setenv("AEVB_MALLOC_TUNING", "0")
    assert runtime.tune_cpu_allocator() is False
    monkeypatch.delenv("AEVB_MALLOC_TUNING")
    expected = runtime._libc() is not None  # glibc (Linux): the thresholds are set
    assert runtime.tune_cpu_allocator() is expected


@pytest.mark.parametrize(
    "config",
    [
        MODEL,
        ModelConfig(latent_dim=4, hidden=[32], posterior="full"),
        ModelConfig(model="deep-vae", latent_dims=[6, 3], hidden=[32], upper_hidden=[16]),
    ],
    ids=["diagonal", "full", "deep"],
)
def test_compiled_loss_is_one_graph(config):
    """``compile = true`` must trace the minibatch loss as one graph: a break (as ``kl_divergence``'s dispatch made
    before its cache was filled) splits it into pieces with Python between them, and the small-batch step got ~40 %
    slower."""
    data = toy_binary(64)
    torch.manual_seed(0)
    estimator = "A" if config.model == "deep-vae" else "B"  # the deep VAE has no closed-form KL
    trainer = Trainer(build_model(config, data.event_shape), data, _cfg(batch_size=16, estimator=estimator))
    # the minibatch as the trainer hands it to the step: on the model's device (a compiled graph never mixes devices)
    explanation = torch._dynamo.explain(trainer.method._loss)(trainer.x[:16], None)
    assert explanation.graph_break_count == 0, [b.reason for b in explanation.break_reasons]
    assert explanation.graph_count == 1


@pytest.mark.skipif(not shutil.which("c++"), reason="CPU torch.compile needs a C++ compiler")
def test_compiled_training_matches_eager():
    eager, compiled = _trainer(epochs=2), _trainer(epochs=2, compile=True)
    eager.fit()
    compiled.fit()
    for name, value in eager.model.state_dict().items():
        torch.testing.assert_close(compiled.model.state_dict()[name], value, rtol=1e-4, atol=1e-5, msg=name)


def test_fit_takes_numpy_arrays_and_tensors_of_rows():
    """The README says NumPy is accepted: aevb.fit(model, array) used to fail on `array.name`."""
    import numpy as np

    import aevb

    rows = (np.random.default_rng(0).random((120, 16)) < 0.3).astype(np.float32)
    model = build_model(ModelConfig(latent_dim=2, hidden=[8]), (16,), seed=0)
    result = aevb.fit(model, rows, test=torch.from_numpy(rows[:20]), epochs=2, progress=False)
    assert len(result.history) == 2 and math.isfinite(result.history[-1]["test_elbo"])
    with pytest.raises(DataError, match="must hold rows"):
        aevb.fit(model, rows[0], epochs=1, progress=False)


def test_fit_refuses_resume_without_a_run_directory():
    from aevb import ConfigError, fit

    model = build_model(ModelConfig(latent_dim=2, hidden=[8]), (1, 6, 6))
    with pytest.raises(ConfigError, match="run_dir"):
        fit(model, toy_binary(32), epochs=1, resume=True)


def test_fit_with_a_config_records_the_data_it_trained_on(tmp_path):
    """A TrainConfig whose dataset was left at its default used to be written as is (mnist-sample) into the run's
    config.toml, so `aevb evaluate RUN` evaluated on other data than the model was trained on; a chosen one stays."""
    from aevb import fit, load_config

    data = TensorData(toy_binary(64).x, name="rows.npy")
    model = build_model(ModelConfig(latent_dim=2, hidden=[8]), data.event_shape)
    fit(model, data, TrainConfig(epochs=1), run_dir=tmp_path / "a")
    assert load_config(tmp_path / "a" / "config.toml").train.dataset == "rows.npy"
    fit(model, data, TrainConfig(epochs=1, dataset="chosen.npy"), run_dir=tmp_path / "b")
    assert load_config(tmp_path / "b" / "config.toml").train.dataset == "chosen.npy"


def test_encode_run_writes_where_it_says_atomically(tmp_path):
    """encode_run returned `out` while np.savez had written `out.npz` when the name lacked the suffix."""
    import numpy as np

    from aevb import fit
    from aevb.runs.tasks import encode_run

    data = TensorData(toy_binary(64).x, name="rows.npy")
    model = build_model(ModelConfig(latent_dim=2, hidden=[8]), data.event_shape)
    np.save(tmp_path / "rows.npy", data.x.numpy())
    fit(model, data, epochs=1, run_dir=tmp_path / "run", dataset=str(tmp_path / "rows.npy"), test_fraction=0.25)
    written = encode_run(tmp_path / "run", split="test", out=tmp_path / "codes")
    assert written == tmp_path / "codes.npz" and written.is_file()
    assert np.load(written)["mean"].shape == (16, 2)
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []


def test_early_stopping_ends_training_patience_steps_after_the_best_and_keeps_its_weights():
    from aevb.training.callbacks import EarlyStopping

    # lr = 1e-30 (below float32's resolution: no weight moves): the held-out ELBO, same seed at each evaluation,
    # never improves on the first, so training ends once `patience` steps have passed since it (4 steps per epoch:
    # at epoch 3, 12 - 4 >= 8), not at epoch 10.
    data = toy_binary(128)
    model = build_model(MODEL, data.event_shape, seed=0)
    first = _weights(model)
    hook = EarlyStopping(patience_steps=8)
    config = _cfg(epochs=10, lr=1e-30, device="cpu")  # `first` was copied on the CPU
    trainer = Trainer(model, data, config, test=toy_binary(64, seed=1), callbacks=[hook])
    result = trainer.fit()
    assert not result.interrupted and trainer.epoch == 3 and result.step == 12
    assert [step for step, _ in hook.curve] == [4, 8, 12] and hook.best_step == 4
    assert all(torch.equal(v, first[k]) for k, v in hook.state.items())

    # Improving at every evaluation: it runs all 5 epochs, and the best is the last step, whose weights it copied.
    model = build_model(MODEL, data.event_shape, seed=0)
    hook = EarlyStopping(patience_steps=8)
    trainer = Trainer(model, data, _cfg(epochs=5, device="cpu"), test=toy_binary(64, seed=1), callbacks=[hook])
    trainer.fit()
    elbos = [elbo for _, elbo in hook.curve]
    assert trainer.epoch == 5 and elbos == sorted(elbos) and hook.best_step == trainer.step == 20
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in hook.state.items())


@pytest.mark.skipif(not shutil.which("c++"), reason="CPU torch.compile needs a C++ compiler")
def test_reduce_overhead_mode_trains_as_eager_and_needs_compile():
    # On a CPU inductor skips CUDA graphs, so this checks the plumbing (on the CPU, also on a machine with a GPU); the
    # GPU check times the graphs themselves.
    eager = _trainer(epochs=2, device="cpu")
    graphs = _trainer(epochs=2, device="cpu", compile=True, compile_mode="reduce-overhead")
    assert graphs.method.graphs is False  # CUDA graphs only on a CUDA device
    eager.fit()
    graphs.fit()
    for name, value in eager.model.state_dict().items():
        torch.testing.assert_close(graphs.model.state_dict()[name], value, rtol=1e-4, atol=1e-5, msg=name)
    with pytest.raises(ConfigError, match="compile_mode = 'reduce-overhead' is a mode of the compiled step"):
        _cfg(compile_mode="reduce-overhead")
    with pytest.raises(ConfigError, match="compile_mode"):
        _cfg(compile=True, compile_mode="fast")


def test_a_standardizing_model_trains_on_any_units_and_reports_densities_of_the_data(tmp_path):
    """``standardize``: the networks see x̃ = (x − c) / s, so data in other units (x ↦ a + b x, per feature) train
    the same model from the same seed, and log p is that of the data: log p_b(a + b x) = log p(x) − Σⱼ log bⱼ
    (change of variables), at every step. Without it, the same raw features (a column in the thousands, as breast
    cancer's "worst area") send the bound to ~−1e27 nats; with it, it is finite and improves. Saved and loaded, the
    standardization comes back with the weights."""
    from aevb.evaluation import evaluate
    from aevb.io import save_model

    x = torch.randn(200, 4, generator=torch.Generator().manual_seed(0)) @ torch.tensor(
        [[1.0, 0.5, 0.0, 0.2], [0.0, 1.0, 0.3, 0.0], [0.0, 0.0, 1.0, 0.4], [0.0, 0.0, 0.0, 1.0]]
    )
    shift, scale = torch.tensor([3.0, -2.0, 900.0, 0.0]), torch.tensor([2.0, 0.01, 600.0, 1.0])
    cfg = ModelConfig(latent_dim=2, hidden=[16], likelihood="gaussian", standardize=True)
    bounds, models = [], []
    for data in (x, shift + scale * x):
        model = build_model(cfg, (4,), seed=0, data=data)
        history = Trainer(model, TensorData(data), _cfg(epochs=4, eval_every=0)).fit().history
        bounds.append(torch.tensor([h["train_bound"] for h in history]))
        models.append(model.eval())
    assert models[0].config.squash_mean is False  # decided by standardize, not by the data's range
    raw = build_model(dataclasses.replace(cfg, standardize=False), (4,), seed=0, data=shift + scale * x)
    unscaled = Trainer(raw, TensorData(shift + scale * x), _cfg(epochs=4, eval_every=0)).fit().history
    assert unscaled[-1]["train_bound"] < bounds[1][-1] - 1000  # without it: thousands of nats worse
    assert bounds[1][-1] > bounds[1][0]
    torch.testing.assert_close(bounds[1], bounds[0] - scale.log().sum().item(), rtol=0, atol=2e-3)
    a, b = evaluate(models[0], x[:50], nll_samples=16), evaluate(models[1], shift + scale * x[:50], nll_samples=16)
    assert b.nll == pytest.approx(a.nll + scale.log().sum().item(), abs=2e-3)
    save_model(models[1], tmp_path / "m")
    back = load_model(tmp_path / "m")
    rows = shift + scale * x[:5]
    torch.testing.assert_close(back.reconstruct(rows), models[1].reconstruct(rows))
    assert (back.reconstruct(rows)[:, 2] > 100).all()  # reconstructions in the data's own units
    with pytest.raises(ConfigError, match="standardize applies to a Gaussian likelihood"):
        ModelConfig(likelihood="bernoulli", standardize=True)
    with pytest.raises(ConfigError, match="standardize and squash_mean exclude each other"):
        ModelConfig(likelihood="gaussian", standardize=True, squash_mean=True)
    with pytest.raises(ConfigError, match="not to vqvae"):
        ModelConfig(model="vqvae", likelihood="gaussian", standardize=True)
    # M2's classifier q(y|x) reads the features standardized too
    m2 = build_model(dataclasses.replace(cfg, model="m2", num_classes=2), (4,), seed=0, data=shift + scale * x)
    torch.testing.assert_close(m2.classifier[0].scale, (shift + scale * x).double().std(0, correction=0).float())
