"""aevb in scikit-learn's and PyOD's conventions: the estimator checks, a Pipeline under GridSearchCV, persistence,
the units of the scores, and PyOD's sign and attributes."""

from __future__ import annotations

import json
import math
import pickle
import pickletools
import subprocess
import sys

import joblib
import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from aevb.sklearn import VAEOutlierDetector, VAETransformer

from .readme_blocks import block

FAST = dict(latent_dim=2, hidden=(8,), epochs=2, batch_size=32, random_state=0)

# Checks skipped: scikit-learn itself skips `check_array_api_input` unless SCIPY_ARRAY_API=1 is set before SciPy is
# imported (the estimators take NumPy and pandas input, not other array-API namespaces). No check is expected to fail.
# The checks run on the CPU, also where a GPU is present: `check_methods_subset_invariance` wants each row scored alone
# to equal the row scored in a batch within 1e-7, i.e. bit for bit in float32, which cuBLAS does not promise across
# batch shapes (a single row takes another kernel). On a GPU the estimators run in the tests below (device "auto"),
# and a row's score against its batch is checked to float32 rounding (test_a_rows_score_does_not_depend_on_its_batch).
CHECKED = dict(FAST, device="cpu")


@parametrize_with_checks([VAEOutlierDetector(**CHECKED, mc_samples=4, regret_steps=2), VAETransformer(**CHECKED)])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits(return_X_y=True)
    return (x / 16.0).astype(np.float32), y  # 8×8 gray digits in [0, 1]: the Bernoulli likelihood


def test_pipeline_with_grid_search_over_the_latent_size(digits):
    """The few-labels probe in three lines: VAE codes of the rows, then a linear classifier, tuned by CV."""
    x, y = digits
    vae = VAETransformer(hidden=(64,), epochs=60, lr=3e-3, random_state=0)
    pipe = Pipeline([("vae", vae), ("clf", LogisticRegression(max_iter=1000))])
    search = GridSearchCV(pipe, {"vae__latent_dim": [2, 8]}, cv=2).fit(x[:600], y[:600])
    assert search.best_params_ == {"vae__latent_dim": 8}  # 2 dimensions cannot hold 10 classes as well as 8
    assert search.score(x[600:1000], y[600:1000]) > 0.75  # chance: 0.1; measured 0.80 (2 dimensions: 0.62)
    names = search.best_estimator_[:-1].get_feature_names_out()
    assert list(names) == [f"vaetransformer{i}" for i in range(8)]


def test_transformer_round_trip_and_pandas(digits):
    pd = pytest.importorskip("pandas")
    x, _ = digits
    frame = pd.DataFrame(x[:300], columns=[f"px{i}" for i in range(64)])
    settings = dict(latent_dim=8, hidden=(64,), epochs=60, lr=3e-3, random_state=0)
    # the same 8 × 8 pixels in [0, 1]: as a plain array, images (a Bernoulli model); with named columns, a table
    pixels = VAETransformer(**settings).fit(x[:300])
    assert pixels.images_ and pixels.likelihood_ == "bernoulli"
    recon = pixels.inverse_transform(pixels.transform(x[:300]))
    assert recon.min() >= 0 and recon.max() <= 1  # decoder means of a Bernoulli
    vae = VAETransformer(**settings).fit(frame)
    assert not vae.images_ and vae.likelihood_ == "gaussian"
    z = vae.transform(frame)
    assert z.shape == (300, 8) and z.dtype == np.float32
    recon = vae.inverse_transform(z)
    assert recon.shape == (300, 64)
    assert np.mean((recon - x[:300]) ** 2) < np.mean((x[:300].mean(0) - x[:300]) ** 2)  # beats the mean image
    with pytest.raises(ValueError, match="feature names"):
        vae.transform(frame.rename(columns={"px0": "other"}))
    draws = VAETransformer(latent_dim=8, hidden=(64,), epochs=1, output="sample", random_state=0).fit(x[:100])
    np.testing.assert_array_equal(draws.transform(x[:5]), draws.transform(x[:5]))  # seeded by random_state


def test_images_keep_their_shape_and_auto_scores_them_with_the_relative_error(digits):
    x, _ = digits
    images = x[:200].reshape(-1, 1, 8, 8)
    detector = VAEOutlierDetector(**{**FAST, "epochs": 3}, mc_samples=8, regret_steps=5).fit(images)
    assert detector.event_shape_ == (1, 8, 8) and detector.anomaly_score_ == "relerr"
    assert detector.score_samples(images[:7]).shape == (7,)
    with pytest.raises(ValueError, match=r"fitted on images of shape \(1, 8, 8\): give them as \[N, 1, 8, 8\]"):
        detector.score_samples(x[:5].reshape(-1, 1, 4, 16))
    with pytest.raises(ValueError, match=r"rows of shape \(64,\), but .* images of shape \(1, 8, 8\)"):
        detector.score_samples(x[:5])  # flat rows: named as such, not as "64 features, expecting 1"
    # gray images with or without their channel axis are the same rows, whichever way the detector was fitted
    np.testing.assert_array_equal(detector.score_samples(images[:7, 0]), detector.score_samples(images[:7]))
    gray = VAEOutlierDetector(**{**FAST, "epochs": 1}, mc_samples=8).fit(images[:, 0])
    assert gray.event_shape_ == (1, 8, 8)
    np.testing.assert_array_equal(gray.score_samples(images[:7]), gray.score_samples(images[:7, 0]))


def test_outlier_detector_ranks_the_other_class_and_predicts_contamination():
    x, y = load_breast_cancer(return_X_y=True)
    benign, malignant = x[y == 1], x[y == 0]
    detector = VAEOutlierDetector(latent_dim=4, hidden=(32,), epochs=60, contamination=0.05, random_state=0)
    detector.fit(benign[:300])
    assert detector.likelihood_ == "gaussian" and detector.anomaly_score_ == "nll"  # a table: the likelihood itself
    train_pred = detector.predict(benign[:300])
    assert abs(np.mean(train_pred == -1) - 0.05) < 0.01  # contamination sets offset_: 5 % of the training rows
    normal, anomalous = detector.score_samples(benign[300:]), detector.score_samples(malignant)
    auroc = np.mean(normal[:, None] > anomalous[None, :])
    assert auroc > 0.9, auroc
    np.testing.assert_allclose(detector.decision_function(malignant), anomalous - detector.offset_)


def test_densities_are_in_nats_of_the_data_as_given():
    """The Gaussian model sees standardized features; its log p(x) is reported for x itself. Data scaled by 10
    standardize to the same rows, so the same seed trains the same model, and log p(10 x) = log p(x) − F log 10."""
    x, _ = load_breast_cancer(return_X_y=True)
    settings = dict(latent_dim=3, hidden=(16,), epochs=3, anomaly_score="nll", mc_samples=16, random_state=0)
    a = VAEOutlierDetector(**settings).fit(x).score_samples(x[:20])
    b = VAEOutlierDetector(**settings).fit(10 * x).score_samples(10 * x[:20])
    np.testing.assert_allclose(b, a - x.shape[1] * math.log(10), rtol=1e-5, atol=1e-3)


def test_a_rows_score_does_not_depend_on_its_batch():
    x, _ = load_breast_cancer(return_X_y=True)
    detector = VAEOutlierDetector(**FAST, anomaly_score="regret", mc_samples=8, regret_steps=5).fit(x[:200])
    full = detector.score_samples(x[:50])
    # equal up to float32 rounding, which differs with the batch's shape (GEMM blocking)
    np.testing.assert_allclose(detector.score_samples(x[[7]]), full[[7]], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(detector.score_samples(x[:50][::-1]), full[::-1], rtol=1e-4, atol=1e-4)


def _globals(data: bytes) -> set[str]:
    """Every module.name a pickle refers to (what unpickling would import and call)."""
    ops = list(pickletools.genops(data))
    names = set()
    for i, (op, arg, _) in enumerate(ops):
        if op.name == "GLOBAL":
            names.add(arg.replace(" ", "."))
        elif op.name == "STACK_GLOBAL":  # module and name are the two strings pushed just before
            strings = [a for o, a, _ in ops[:i] if o.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE")]
            names.add(".".join(strings[-2:]))
    return names


def test_joblib_round_trip_gives_identical_scores_and_pickles_no_torch_objects(tmp_path):
    x, _ = load_breast_cancer(return_X_y=True)
    detector = VAEOutlierDetector(**FAST, mc_samples=8).fit(x)
    joblib.dump(detector, tmp_path / "detector.joblib")
    loaded = joblib.load(tmp_path / "detector.joblib")
    np.testing.assert_array_equal(loaded.score_samples(x[:40]), detector.score_samples(x[:40]))
    assert loaded.offset_ == detector.offset_
    # the weights travel as safetensors bytes; the only class a pickle names is the estimator's own
    assert _globals(pickle.dumps(detector)) == {"aevb.sklearn.outlier.VAEOutlierDetector"}


def test_save_and_load_through_safetensors_and_json(tmp_path):
    x, _ = load_breast_cancer(return_X_y=True)
    detector = VAEOutlierDetector(**FAST, mc_samples=8).fit(x)
    folder = detector.save(tmp_path / "saved")
    assert sorted(p.name for p in folder.iterdir()) == ["estimator.json", "model.json", "model.safetensors"]
    loaded = VAEOutlierDetector.load(folder)
    np.testing.assert_array_equal(loaded.score_samples(x[:40]), detector.score_samples(x[:40]))
    assert loaded.get_params() == detector.get_params()
    with pytest.raises(Exception, match="holds a VAEOutlierDetector, not a VAETransformer"):
        VAETransformer.load(folder)


def test_pyod_detector_follows_pyods_conventions():
    pytest.importorskip("pyod")
    from aevb.pyod import AEVBDetector

    x, y = load_breast_cancer(return_X_y=True)
    detector = AEVBDetector(latent_dim=4, hidden=(32,), epochs=20, contamination=0.1, random_state=0).fit(x)
    assert detector.decision_scores_.shape == (len(x),)
    assert abs(detector.labels_.mean() - 0.1) < 0.01  # labels_: 1 for the 10 % highest training scores
    np.testing.assert_allclose(detector.decision_function(x[:30]), -detector.score_samples(x[:30]))  # higher = worse
    assert set(np.unique(detector.predict(x))) <= {0, 1}
    np.testing.assert_array_equal(detector.predict(x[:50]), (detector.decision_function(x[:50]) > detector.threshold_))
    proba = detector.predict_proba(x[:5])
    assert proba.shape == (5, 2) and np.allclose(proba.sum(1), 1)
    loaded = pickle.loads(pickle.dumps(detector))
    np.testing.assert_array_equal(loaded.decision_scores_, detector.decision_scores_)


def test_guide_block_runs_as_written(tmp_path):
    script = tmp_path / "sklearn_quickstart.py"
    script.write_text(block("# scikit-learn and PyOD", "python", page="docs/guide/sklearn.md"))
    out = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("nll [")  # the score "auto" chose for a table, and three log p(x)
    assert float(lines[-1]) > 0.75  # the probe's accuracy (chance: 0.1)


def test_rows_outside_a_bernoulli_models_support_are_the_most_anomalous(digits):
    """A detector fitted on pixels in [0, 1] meets rows beyond that range (min-max scaling by the training range
    does this): they score +inf, with a warning, instead of an error; the other rows score as before."""
    x, _ = digits
    detector = VAEOutlierDetector(**FAST, anomaly_score="nll", mc_samples=4).fit(x[:200])
    assert detector.likelihood_ == "bernoulli"
    rows = x[200:205].copy()
    rows[1, 3] = 1.2
    with pytest.warns(UserWarning, match="1 row.* outside \\[0, 1\\]") as caught:
        scores = detector.anomaly_scores(rows)["nll"]
    assert caught[0].filename == __file__  # the warning names the caller's line, not one inside aevb
    with pytest.warns(UserWarning) as caught:
        detector.predict(rows)  # three aevb frames deeper: still the caller's line
    assert caught[0].filename == __file__
    assert np.isinf(scores[1]) and np.isfinite(np.delete(scores, 1)).all()
    np.testing.assert_allclose(np.delete(scores, 1), detector.anomaly_scores(np.delete(rows, 1, axis=0))["nll"])
    with pytest.warns(UserWarning):
        assert detector.predict(rows)[1] == -1


def test_a_bad_output_set_after_fitting_is_refused(digits):
    x, _ = digits
    vae = VAETransformer(**FAST).fit(x[:100])
    vae.set_params(output="median")
    with pytest.raises(ValueError, match="output must be one of mean, sample"):
        vae.transform(x[:3])


def test_relerr_on_a_table_is_refused_before_training():
    x, _ = load_breast_cancer(return_X_y=True)
    detector = VAEOutlierDetector(anomaly_score="relerr", epochs=1)
    with pytest.raises(ValueError, match="needs images .* use 'sqerr'"):  # scoring after training would say otherwise
        detector.fit(x)
    assert not hasattr(detector, "model_")  # nothing was trained


def test_a_sampled_code_of_a_full_covariance_posterior_is_mu_plus_l_eps(digits):
    """output="sample" draws z = μ + L ε with the Cholesky factor L of q's covariance: the correlations are kept
    (a draw μ + σ ⊙ ε from the marginal deviations alone, as before, is not a draw of q)."""
    x, _ = digits
    transformer = VAETransformer(**{**FAST, "latent_dim": 3}, posterior="full", output="sample").fit(x[:100])
    with torch.no_grad():
        q = transformer.model_.encode(torch.as_tensor(x[:5], dtype=torch.float32))
    eps = torch.randn(1, 3, generator=torch.Generator().manual_seed(transformer.seed_)).to(q.loc)
    expected = q.loc + (q.scale_tril @ eps.T).squeeze(-1)
    assert q.scale_tril[:, 1, 0].abs().max() > 1e-4  # the posterior is correlated, so the two draws differ
    np.testing.assert_allclose(transformer.transform(x[:5]), expected.cpu().numpy(), rtol=1e-5, atol=1e-6)


def test_a_feature_constant_in_training_is_centred_not_scaled():
    # Unused pixels of digit 0 are constant in its rows; dividing them by a 1e-6 floor sent other digits' rows to
    # ~10⁶ standard deviations, where the Gaussian VAE's scores were NaN.
    x, y = load_digits(return_X_y=True)
    det = VAEOutlierDetector(latent_dim=4, hidden=(32,), epochs=5, random_state=0, regret_steps=2).fit(x[y == 0])
    constant = x[y == 0].std(0) == 0
    assert constant.sum() >= 5
    assert (det.scale_[constant] == 1).all() and (det.scale_[~constant] != 1).all()
    scores = det.anomaly_scores(x[y != 0][:300], ["nll", "elbo", "regret"])
    for s in scores.values():
        assert np.isfinite(s).all()


def test_early_stopping_trains_on_every_row_for_the_held_out_elbos_best_step():
    from aevb.sklearn._base import PATIENCE_STEPS, VALIDATION_EVERY

    x, y = load_breast_cancer(return_X_y=True)
    params = dict(latent_dim=2, hidden=(16,), early_stopping=True, max_steps=1500, random_state=0)
    det = VAEOutlierDetector(**params, regret_steps=2).fit(x[y == 1])  # 357 rows: 286 train the search, 71 held out
    steps, elbos = zip(*det.validation_elbo_, strict=True)
    every = VALIDATION_EVERY // 3 * 3  # 3 steps per epoch: every 16 epochs
    assert steps[:-1] == tuple(range(every, steps[-1], every))
    best = steps[int(np.argmax(elbos))]
    assert det.n_steps_ == best
    # The search stops at the first evaluation PATIENCE_STEPS after the best (or at max_steps, evaluated too).
    assert steps[-1] == min(params["max_steps"], best + math.ceil(PATIENCE_STEPS / every) * every)
    # The final model: all 357 rows (4 steps per epoch) for n_steps_ steps, as train_bound_'s epochs show.
    assert len(det.train_bound_) == math.ceil(best / 4)
    again = VAEOutlierDetector(**params, regret_steps=2).fit(x[y == 1])
    np.testing.assert_array_equal(det.score_samples(x[:50]), again.score_samples(x[:50]))
    assert VAEOutlierDetector(latent_dim=2, hidden=(16,), epochs=3).fit(x[:40]).validation_elbo_ is None


@pytest.mark.parametrize(
    ("params", "rows", "message"),
    [
        (dict(validation_fraction=1.5), 40, r"validation_fraction must be a number in \(0, 1\), got 1.5"),
        (dict(max_steps=0), 40, "max_steps must be a positive integer, got 0"),
        (dict(validation_fraction=0.2), 5, "of 5 rows = 1; both the held-out and the training part need at least 2"),
    ],
)
def test_early_stopping_refuses_what_it_cannot_do(params, rows, message):
    x, _ = load_breast_cancer(return_X_y=True)
    with pytest.raises(ValueError, match=message):
        VAEOutlierDetector(latent_dim=2, hidden=(8,), early_stopping=True, **params).fit(x[:rows])


def test_standardization_matches_scikit_learns_standard_scaler():
    from sklearn.preprocessing import StandardScaler

    from aevb.data.scaling import standardization

    rng = np.random.default_rng(0)
    # tiny but varying spreads keep them (a 1e-6 tolerance had set these to 1); constant columns get 1
    tiny, tiny_offset, wide = rng.normal(0, 1e-7, 100), rng.normal(1, 5e-7, 100), rng.normal(5, 2, 100)
    x = np.c_[tiny, tiny_offset, np.full(100, 3.3), np.zeros(100), wide].astype(np.float32)
    center, scale = standardization(x)
    reference = StandardScaler().fit(x)
    np.testing.assert_allclose(scale, reference.scale_, rtol=1e-5)
    np.testing.assert_allclose(center, reference.mean_, rtol=1e-5, atol=1e-12)
    assert scale[2] == scale[3] == 1


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (dict(latent_dim=2.5), "latent_dim must be of type int, got 2.5"),
        (dict(latent_dim=np.float32(2.5)), "latent_dim must be of type int"),
        (dict(hidden=(16, "wide")), r"hidden must be of type list, got \(16, 'wide'\)"),
        (dict(epochs=1.5), "epochs must be of type int, got 1.5"),
        (dict(batch_size=0), "batch_size must be > 0, got 0"),
        (dict(lr="fast"), "lr must be of type float, got 'fast'"),
        (dict(verbose="x"), r"verbose must be True or False \(or 1 or 0\), got 'x'"),
        (dict(posterior="point"), "posterior must be one of diagonal, full"),
        (dict(device="cuda:x"), "device = 'cuda:x' is not allowed; choose auto, cpu, cuda or cuda:N"),
        (dict(mc_samples=2.5), "mc_samples must be a positive integer, got 2.5"),
        (dict(mc_samples=0), "mc_samples must be a positive integer, got 0"),
        (dict(contamination="auto"), r"contamination must be a number in \(0, 0.5\], got 'auto'"),
    ],
)
def test_a_bad_parameter_is_named_before_anything_is_fitted(params, message):
    """Each refusal names the parameter and what it allows (a ValueError, as scikit-learn's are), before training:
    not torch's or Python's error from deep inside (``batch_size=0`` was a ZeroDivisionError, ``lr="fast"`` a
    TypeError, ``posterior="point"`` failed only after the check listed it as allowed)."""
    x, _ = load_breast_cancer(return_X_y=True)
    detector = VAEOutlierDetector(**{**FAST, **params})
    with pytest.raises(ValueError, match=message):
        detector.fit(x[:40])
    assert not hasattr(detector, "model_")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_a_gpu_this_machine_lacks_is_refused_by_name():
    x, _ = load_breast_cancer(return_X_y=True)
    with pytest.raises(ValueError, match="device 'cuda' asks for a GPU, but this process has none.*use device auto"):
        VAEOutlierDetector(**{**FAST, "device": "cuda"}).fit(x[:40])


def test_numpy_parameters_as_a_grid_search_hands_them_fit_and_save(tmp_path):
    """``GridSearchCV(..., {"latent_dim": np.arange(2, 5)})`` sets NumPy scalars: they fit, score and save (the
    model's JSON holds Python ints; ``save`` used to fail half-way with "int64 is not JSON serializable")."""
    x, _ = load_breast_cancer(return_X_y=True)
    params = dict(latent_dim=np.int64(3), hidden=np.array([16, 8]), epochs=np.int32(2), lr=np.float32(1e-3))
    detector = VAEOutlierDetector(**params, contamination=np.float32(0.1), mc_samples=np.int64(4), random_state=0)
    detector.fit(x[:60])
    folder = detector.save(tmp_path / "saved")
    meta = json.loads((folder / "model.json").read_text())
    assert meta["model"]["latent_dim"] == 3 and meta["model"]["hidden"] == [16, 8]
    np.testing.assert_array_equal(
        VAEOutlierDetector.load(folder).score_samples(x[60:70]), detector.score_samples(x[60:70])
    )


def test_auto_takes_images_by_their_shape_and_flat_pixels_but_never_a_named_or_scaled_table():
    """``images_`` (and with it the ``auto`` likelihood and score): arrays of 8 × 8 pixels in [0, 1] are images;
    the same values with column names and a 100-column table of sensor values (outside [0, 1]) are tables; so is a
    min-max-scaled table of 30 columns (not a square width): a Gaussian and ``nll``, so a new row beyond the training
    range scores finite. 0/1 rows get a Bernoulli likelihood either way."""
    pd = pytest.importorskip("pandas")
    from sklearn.preprocessing import MinMaxScaler

    digits = load_digits().data.astype(np.float32) / 16
    sensors = np.random.default_rng(0).normal(size=(120, 100)).astype(np.float32)
    x, _ = load_breast_cancer(return_X_y=True)
    cases = {
        "pixels": (digits[:120], True, "bernoulli", "relerr"),
        "named pixels": (pd.DataFrame(digits[:120], columns=[f"px{i}" for i in range(64)]), False, "gaussian", "nll"),
        "sensors": (sensors, False, "gaussian", "nll"),
        "binary": ((digits[:120] > 0.5).astype(np.float32), True, "bernoulli", "relerr"),
        "binary table": ((sensors[:, :30] > 0).astype(np.float32), False, "bernoulli", "nll"),
    }
    for name, (rows, images, likelihood, score) in cases.items():
        detector = VAEOutlierDetector(**{**FAST, "epochs": 1}, mc_samples=4).fit(rows)
        got = (detector.images_, detector.likelihood_, detector.anomaly_score_)
        assert got == (images, likelihood, score), name
    scaler = MinMaxScaler().fit(x[:250])
    detector = VAEOutlierDetector(**{**FAST, "epochs": 3}, mc_samples=4).fit(scaler.transform(x[:250]))
    assert (detector.images_, detector.likelihood_) == (False, "gaussian")
    beyond = scaler.transform(x[250:])
    assert (beyond > 1).any() or (beyond < 0).any()
    assert np.isfinite(detector.score_samples(beyond)).all()


def test_anomaly_scores_takes_one_name_or_several(digits):
    x, _ = digits
    detector = VAEOutlierDetector(**FAST, mc_samples=4).fit(x[:100])
    one = detector.anomaly_scores(x[:5], "sqerr")
    assert one.keys() == {"sqerr"}
    np.testing.assert_array_equal(one["sqerr"], detector.anomaly_scores(x[:5], ["sqerr", "nll"])["sqerr"])


def test_verbose_and_early_stopping_take_zero_and_one_as_scikit_learn_and_pyod_do():
    x, _ = load_breast_cancer(return_X_y=True)
    assert VAEOutlierDetector(**FAST, verbose=0, early_stopping=0).fit(x[:40]).n_steps_ > 0
    with pytest.raises(ValueError, match=r"verbose must be True or False \(or 1 or 0\), got 2"):
        VAEOutlierDetector(**FAST, verbose=2).fit(x[:40])


def test_a_gray_image_detector_saved_before_the_channel_axis_rule_still_scores(tmp_path):
    """Before 2026-12-05 a detector fitted on gray ``[N, H, W]`` images recorded scikit-learn's ``n_features_in_``
    as H (and had no ``images_``); loaded now, it takes the images with or without their channel axis."""
    images = np.random.default_rng(0).random((40, 8, 8)).astype(np.float32)
    detector = VAEOutlierDetector(**{**FAST, "epochs": 1}, mc_samples=4).fit(images)
    expected = detector.score_samples(images[:5])
    detector.n_features_in_ = 8  # as the earlier version recorded it
    del detector.images_
    for old in (pickle.loads(pickle.dumps(detector)), VAEOutlierDetector.load(detector.save(tmp_path / "old"))):
        assert old.n_features_in_ == 1 and old.images_
        np.testing.assert_array_equal(old.score_samples(images[:5]), expected)
        np.testing.assert_array_equal(old.score_samples(images[:5, None]), expected)
