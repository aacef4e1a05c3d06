"""How good a representation is with few labels: a linear probe and a k-NN probe on balanced labelled subsets.

The test error of a scikit-learn classifier trained on ``n`` labelled points (``n / C`` per class, chosen by a seed)
of some features, measured on the whole test set, mean ± sd over several labelled-subset seeds. Kingma et al. (2014,
"Semi-supervised learning with deep generative models", M1) feed a VAE's posterior means to such a classifier; the
same probe on raw pixels and on PCA features of the same width says what the VAE added.

Classifiers (scikit-learn's, so nothing here is hand-written): ``logistic`` = ``LogisticRegression(max_iter=1000)``
on standardized features (the scaler fitted on the labelled points only), ``knn`` = ``KNeighborsClassifier(3)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from aevb.errors import ConfigError

CLASSIFIERS = ("logistic", "knn")


def balanced_subset(labels: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``n`` points, ``n / C`` of each of the C classes in ``labels`` (sorted)."""
    classes = np.unique(labels)
    if n < len(classes):  # 0 (or fewer than one per class) used to end in a traceback from the classifier's fit
        raise ConfigError(
            f"{n} labels cannot cover the {len(classes)} classes: give at least one per class, a multiple of "
            f"{len(classes)} (e.g. --labels {10 * len(classes)})"
        )
    if n % len(classes):
        raise ConfigError(f"{n} labels cannot be split evenly over {len(classes)} classes; use a multiple of it")
    per_class = n // len(classes)
    picks = []
    for c in classes:
        members = np.flatnonzero(labels == c)
        if len(members) < per_class:
            raise ConfigError(f"class {c} has {len(members)} training points, fewer than the {per_class} asked for")
        picks.append(rng.choice(members, per_class, replace=False))
    return np.sort(np.concatenate(picks))


def probe_classifier(name: str) -> Callable[[], object]:
    """A maker of the unfitted scikit-learn classifier called ``name`` (``logistic`` or ``knn``, as above)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    makers = {
        "logistic": lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
        "knn": lambda: KNeighborsClassifier(n_neighbors=3),
    }
    if name not in makers:
        raise ConfigError(f"unknown probe classifier {name!r}; choose from: {', '.join(CLASSIFIERS)}")
    return makers[name]


def probe_errors(
    features: dict[str, tuple[np.ndarray, np.ndarray]],
    train_labels: np.ndarray,
    test_labels: np.ndarray,
    label_counts: Sequence[int],
    seeds: int = 5,
    classifiers: Sequence[str] = CLASSIFIERS,
) -> list[dict[str, object]]:
    """Rows (features, classifier, labels, error mean/sd, errors per seed) for every combination.

    ``features`` maps a name to (train features ``[N, d]``, test features ``[M, d]``); every feature set sees the same
    labelled subsets (seed s draws subset s for every count).
    """
    if seeds < 1 or not label_counts:
        raise ConfigError("a probe needs at least one label count and one seed")
    if min(label_counts) < 1:  # checked before a negative count seeds a generator (NumPy's own error names no flag)
        raise ConfigError(f"--labels takes positive counts of labelled training points, got {min(label_counts)}")
    rows = []
    for count in label_counts:
        subsets = [balanced_subset(train_labels, count, np.random.default_rng([seed, count])) for seed in range(seeds)]
        for name, (train, test) in features.items():
            for clf in classifiers:
                make = probe_classifier(clf)
                errors = []
                for idx in subsets:
                    model = make().fit(train[idx], train_labels[idx])
                    errors.append(float(np.mean(model.predict(test) != test_labels)))
                rows.append(
                    {
                        "features": name,
                        "classifier": clf,
                        "labels": count,
                        "error": float(np.mean(errors)),
                        "error_sd": float(np.std(errors, ddof=1)) if len(errors) > 1 else 0.0,
                        "errors": errors,
                    }
                )
    return rows
