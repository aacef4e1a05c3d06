"""Disentanglement metrics for data with known generative factors, as google-research/disentanglement_lib defines them.

Each metric sees the data only through a :class:`FactorData` (sample factor classes, draw the observations that show
them) and the model only through a representation function (observations ``[N, ...]`` → codes ``[N, d]``; for a
VAE the posterior means, as in disentanglement_lib). Default sample counts are disentanglement_lib's
(``unsupervised_study_v1/metric_configs``); classifiers and regressors are scikit-learn's with their defaults.

- **BetaVAE score** (Higgins et al. 2017): a point is made by choosing a factor k uniformly, drawing ``batch_size``
  pairs of factor vectors that agree on k (and are independent otherwise) and averaging |r(x₁) − r(x₂)| over the
  pairs; a logistic regression predicts k from the point. Score = its accuracy on ``num_eval`` fresh points
  (``num_train`` = 10,000, ``num_eval`` = 5,000, ``batch_size`` = 64).
- **FactorVAE score** (Kim & Mnih 2018): codes are divided by their standard deviation over ``num_variance`` =
  10,000 random observations; dimensions with that deviation below 0.05 are pruned (collapsed to the prior). A vote
  fixes one factor k over ``batch_size`` = 64 observations and records (k, the dimension of least normalised
  variance); the majority-vote classifier maps each dimension to its commonest factor. Score = its accuracy on
  ``num_eval`` = 5,000 fresh votes (``num_train`` = 10,000 votes build it).
- **MIG** (Chen et al. 2018): codes of ``num_train`` = 10,000 random observations discretised into 20 equal-width
  histogram bins per dimension; I(z_j; v_k) by ``sklearn.metrics.mutual_info_score`` (nats); MIG = mean over factors
  of (largest − second largest I over dimensions) / H(v_k).
- **DCI** (Eastwood & Williams 2018): one ``GradientBoostingClassifier`` per factor on the codes of ``num_train`` =
  10,000 observations; R_jk = |feature importance| of dimension j for factor k. Disentanglement = Σ_j ρ_j (1 −
  H_K(P_j·)), ρ_j = Σ_k R_jk / Σ R, P_jk = R_jk / Σ_k R_jk, entropy to base K (number of factors); completeness =
  Σ_k ρ_k (1 − H_D(P̃_·k)) with base D (number of dimensions); informativeness = mean test accuracy over the
  factors on ``num_test`` = 5,000 observations.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from aevb.errors import ConfigError

Representation = Callable[[np.ndarray], np.ndarray]
"""Observations ``[N, ...]`` → codes ``[N, d]`` (float)."""

_CHUNK = 4096  # observations represented per call


class FactorData(Protocol):
    """Data with known discrete factors: what every metric here needs (``aevb.data.dsprites.DSprites`` is one)."""

    factor_names: tuple[str, ...]
    factor_sizes: tuple[int, ...]

    def sample_factors(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` rows of factor classes ``[n, K]``."""
        ...

    def observations(self, classes: np.ndarray) -> np.ndarray:
        """The observations showing ``classes`` ``[N, K]``."""
        ...


def _represent(data: FactorData, represent: Representation, classes: np.ndarray) -> np.ndarray:
    parts = [represent(data.observations(classes[i : i + _CHUNK])) for i in range(0, len(classes), _CHUNK)]
    return np.concatenate(parts).astype(np.float64)


def factor_codes(
    data: FactorData, represent: Representation, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Codes ``[n, d]`` and factor classes ``[n, K]`` of ``n`` random observations."""
    classes = data.sample_factors(n, rng)
    return _represent(data, represent, classes), classes


# --------------------------------------------------------------------------------------------------- BetaVAE


def _beta_vae_points(
    data: FactorData, represent: Representation, n: int, batch_size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    k = len(data.factor_sizes)
    labels = rng.integers(0, k, n)
    first = data.sample_factors(n * batch_size, rng)
    second = data.sample_factors(n * batch_size, rng)
    fixed = np.repeat(labels, batch_size)
    second[np.arange(n * batch_size), fixed] = first[np.arange(n * batch_size), fixed]
    diff = np.abs(_represent(data, represent, first) - _represent(data, represent, second))
    return diff.reshape(n, batch_size, -1).mean(axis=1), labels


def beta_vae_score(
    data: FactorData,
    represent: Representation,
    rng: np.random.Generator,
    *,
    batch_size: int = 64,
    num_train: int = 10_000,
    num_eval: int = 5_000,
) -> dict[str, float | bool]:
    """The BetaVAE score (Higgins et al. 2017): accuracy of a logistic regression naming the fixed factor.

    The regression keeps scikit-learn's default of 100 L-BFGS iterations, as disentanglement_lib does, so scores stay
    comparable with published ones; whether it converged within them is reported (``classifier_converged``) instead
    of scikit-learn's multi-line warning.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    x_train, y_train = _beta_vae_points(data, represent, num_train, batch_size, rng)
    x_eval, y_eval = _beta_vae_points(data, represent, num_eval, batch_size, rng)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model = LogisticRegression(random_state=int(rng.integers(2**31))).fit(x_train, y_train)
    converged = True
    for w in caught:
        if issubclass(w.category, ConvergenceWarning):
            converged = False
        else:  # any other warning passes on as it came
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return {
        "train_accuracy": float(np.mean(model.predict(x_train) == y_train)),
        "eval_accuracy": float(np.mean(model.predict(x_eval) == y_eval)),
        "classifier_converged": converged,
    }


# ------------------------------------------------------------------------------------------------- FactorVAE


def _factor_vae_votes(
    data: FactorData,
    represent: Representation,
    n: int,
    batch_size: int,
    scale: np.ndarray,
    active: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    k = len(data.factor_sizes)
    votes = np.zeros((k, len(scale)), dtype=np.int64)
    labels = rng.integers(0, k, n)
    classes = data.sample_factors(n * batch_size, rng).reshape(n, batch_size, k)
    classes[np.arange(n), :, labels] = classes[np.arange(n), 0, labels][:, None]
    codes = _represent(data, represent, classes.reshape(n * batch_size, k)).reshape(n, batch_size, -1)
    local = codes.var(axis=1, ddof=1) / scale**2  # [n, d]
    local[:, ~active] = np.inf
    np.add.at(votes, (labels, local.argmin(axis=1)), 1)
    return votes


def factor_vae_score(
    data: FactorData,
    represent: Representation,
    rng: np.random.Generator,
    *,
    batch_size: int = 64,
    num_train: int = 10_000,
    num_eval: int = 5_000,
    num_variance: int = 10_000,
    prune: float = 0.05,
) -> dict[str, float]:
    """The FactorVAE score (Kim & Mnih 2018): accuracy of the majority vote dimension → factor."""
    codes, _ = factor_codes(data, represent, num_variance, rng)
    scale = codes.std(axis=0, ddof=1)
    active = scale >= prune
    if not active.any():
        return {"train_accuracy": 0.0, "eval_accuracy": 0.0, "num_active_dims": 0}
    train = _factor_vae_votes(data, represent, num_train, batch_size, scale, active, rng)
    classifier = train.argmax(axis=0)  # each dimension's commonest factor
    columns = np.arange(train.shape[1])
    evaluate = _factor_vae_votes(data, represent, num_eval, batch_size, scale, active, rng)
    return {
        "train_accuracy": float(train[classifier, columns].sum() / train.sum()),
        "eval_accuracy": float(evaluate[classifier, columns].sum() / evaluate.sum()),
        "num_active_dims": int(active.sum()),
    }


# ------------------------------------------------------------------------------------------------------- MIG


def discretize(codes: np.ndarray, bins: int = 20) -> np.ndarray:
    """Each column of ``codes`` ``[N, d]`` as the index of its equal-width histogram bin (disentanglement_lib's)."""
    out = np.zeros(codes.shape, dtype=np.int64)
    for j in range(codes.shape[1]):
        out[:, j] = np.digitize(codes[:, j], np.histogram(codes[:, j], bins)[1][:-1])
    return out


def mutual_information(codes: np.ndarray, classes: np.ndarray, bins: int = 20) -> np.ndarray:
    """I(z_j; v_k) in nats, ``[d, K]``, of discretised codes ``[N, d]`` and factor classes ``[N, K]``."""
    from sklearn.metrics import mutual_info_score

    discrete = discretize(codes, bins)
    return np.array(
        [
            [mutual_info_score(classes[:, k], discrete[:, j]) for k in range(classes.shape[1])]
            for j in range(codes.shape[1])
        ]
    )


def factor_entropy(classes: np.ndarray) -> np.ndarray:
    """H(v_k) in nats of each factor column of ``classes`` ``[N, K]``."""
    from sklearn.metrics import mutual_info_score

    return np.array([mutual_info_score(classes[:, k], classes[:, k]) for k in range(classes.shape[1])])


def mig_from_codes(
    codes: np.ndarray, classes: np.ndarray, bins: int = 20, names: Sequence[str] | None = None
) -> dict[str, float]:
    """MIG of given codes ``[N, d]`` and factor classes ``[N, K]`` (at least two code dimensions), and each factor's
    gap as ``mig_NAME`` (``names``, default the factor's index)."""
    if codes.shape[1] < 2:
        raise ConfigError(f"MIG needs at least two code dimensions; got {codes.shape[1]}")
    return mig_from_mutual_information(mutual_information(codes, classes, bins), classes, names)


def mig_from_mutual_information(
    mi: np.ndarray, classes: np.ndarray, names: Sequence[str] | None = None
) -> dict[str, float]:
    """MIG from I(z_j; v_k) ``[d, K]`` (:func:`mutual_information`) and the factor classes ``[N, K]`` it came from:
    per factor (top − second I(z_j; v_k)) / H(v_k), averaged."""
    top = np.sort(mi, axis=0)[::-1]
    gaps = (top[0] - top[1]) / factor_entropy(classes)
    names = names or [str(k) for k in range(len(gaps))]
    return {"mig": float(gaps.mean()), **{f"mig_{name}": float(g) for name, g in zip(names, gaps, strict=True)}}


def mig(
    data: FactorData, represent: Representation, rng: np.random.Generator, *, num_train: int = 10_000, bins: int = 20
) -> dict[str, float]:
    """The mutual information gap (Chen et al. 2018), per factor and averaged."""
    codes, classes = factor_codes(data, represent, num_train, rng)
    return mig_from_codes(codes, classes, bins, data.factor_names)


# ------------------------------------------------------------------------------------------------------- DCI


def _entropy(p: np.ndarray, base: int, axis: int) -> np.ndarray:
    p = p / p.sum(axis=axis, keepdims=True)
    return -(p * np.log(p)).sum(axis=axis) / np.log(base)


def dci_from_importance(importance: np.ndarray) -> dict[str, float]:
    """DCI disentanglement and completeness of an importance matrix R ``[d, K]`` (codes × factors)."""
    r = np.abs(importance) + 1e-11  # disentanglement_lib's guard against log 0
    total = r.sum()
    d, k = r.shape
    disentanglement = float(((1.0 - _entropy(r, k, axis=1)) * r.sum(axis=1) / total).sum()) if k > 1 else 1.0
    completeness = float(((1.0 - _entropy(r, d, axis=0)) * r.sum(axis=0) / total).sum()) if d > 1 else 1.0
    return {"disentanglement": disentanglement, "completeness": completeness}


def dci_from_codes(
    train_codes: np.ndarray, train_classes: np.ndarray, test_codes: np.ndarray, test_classes: np.ndarray, seed: int = 0
) -> dict[str, float]:
    """DCI of given codes: gradient-boosted trees per factor; importance, accuracy (informativeness)."""
    from sklearn.ensemble import GradientBoostingClassifier

    importance = np.zeros((train_codes.shape[1], train_classes.shape[1]))
    train_acc, test_acc = [], []
    for k in range(train_classes.shape[1]):
        model = GradientBoostingClassifier(random_state=seed).fit(train_codes, train_classes[:, k])
        importance[:, k] = np.abs(model.feature_importances_)
        train_acc.append(np.mean(model.predict(train_codes) == train_classes[:, k]))
        test_acc.append(np.mean(model.predict(test_codes) == test_classes[:, k]))
    return {
        **dci_from_importance(importance),
        "informativeness_train": float(np.mean(train_acc)),
        "informativeness_test": float(np.mean(test_acc)),
    }


def dci(
    data: FactorData,
    represent: Representation,
    rng: np.random.Generator,
    *,
    num_train: int = 10_000,
    num_test: int = 5_000,
) -> dict[str, float]:
    """DCI disentanglement, completeness and informativeness (Eastwood & Williams 2018)."""
    train = factor_codes(data, represent, num_train, rng)
    test = factor_codes(data, represent, num_test, rng)
    return dci_from_codes(*train, *test, seed=int(rng.integers(2**31)))


# ---------------------------------------------------------------------------------------------------- all of it


Metric = Callable[[FactorData, Representation, np.random.Generator, int, int], dict[str, float]]

METRICS: dict[str, Metric] = {
    "beta_vae": lambda data, rep, rng, n, m: beta_vae_score(data, rep, rng, num_train=n, num_eval=m),
    "factor_vae": lambda data, rep, rng, n, m: factor_vae_score(
        data, rep, rng, num_train=n, num_eval=m, num_variance=n
    ),
    "mig": lambda data, rep, rng, n, m: mig(data, rep, rng, num_train=n),
    "dci": lambda data, rep, rng, n, m: dci(data, rep, rng, num_train=n, num_test=m),
}
"""Metric name → ``metric(data, represent, rng, num_train, num_eval)``."""


def disentanglement(
    data: FactorData,
    represent: Representation,
    metrics: Sequence[str] = ("beta_vae", "factor_vae", "mig", "dci"),
    *,
    seed: int = 0,
    num_train: int = 10_000,
    num_eval: int = 5_000,
) -> dict[str, dict[str, float]]:
    """Every metric in ``metrics`` (names from :data:`METRICS`), each with its own generator seeded by ``seed``.

    ``num_train`` / ``num_eval`` set every metric's training and evaluation counts at once (disentanglement_lib:
    10,000 and 5,000; FactorVAE's variance estimate uses ``num_train`` observations).
    """
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise ConfigError(f"unknown disentanglement metric(s) {unknown}; known: {', '.join(METRICS)}")
    if num_train < 2 or num_eval < 1:
        raise ConfigError(f"num_train must be >= 2 and num_eval >= 1; got {num_train} and {num_eval}")
    out: dict[str, dict[str, float]] = {}
    for i, name in enumerate(METRICS):
        if name in metrics:
            out[name] = METRICS[name](data, represent, np.random.default_rng([seed, i]), num_train, num_eval)
    return out
