"""A diagnostic ON THE TEST TASKS, run after every choice was made (it chooses nothing): how classical density
estimators do on the tabular benchmark's own tasks (breast cancer and wine, class 0 normal; the benchmark's split
and seeds), to say why aevb's default, a density model, is behind IsolationForest on breast cancer.

Scores (higher = more anomalous): a Gaussian's Mahalanobis distance (Ledoit-Wolf covariance), the distance to the
5th nearest training row, a Gaussian kernel density at three bandwidths (standardized units), the largest
absolute z over the features, and, as a probe of the anomalies' direction (not a detector: it uses knowledge of
which way the anomalies lie), minus the row's mean standardized value.

    PYTHONPATH=src python benchmarks/one_class_design/tables_density_diagnostic.py
"""

from __future__ import annotations

import numpy as np
from sklearn import datasets
from sklearn.covariance import LedoitWolf
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import KernelDensity, NearestNeighbors

from aevb.reproduce.one_class import table_split


def _scores(train: np.ndarray, test: np.ndarray) -> dict[str, np.ndarray]:
    found = {
        "Gaussian, Mahalanobis (Ledoit-Wolf)": LedoitWolf().fit(train).mahalanobis(test),
        "5th-nearest-neighbour distance": NearestNeighbors(n_neighbors=5).fit(train).kneighbors(test)[0][:, -1],
    }
    for bandwidth in (0.5, 1.0, 2.0):
        density = KernelDensity(bandwidth=bandwidth).fit(train)
        found[f"Gaussian KDE, bandwidth {bandwidth}"] = -density.score_samples(test)
    found["largest absolute z over the features"] = np.abs(test).max(1)
    found["probe: minus the mean z (not a detector)"] = -test.mean(1)
    return found


def main() -> None:
    print("| score | breast cancer | wine |\n|---|---|---|")
    results: dict[str, dict[str, list[float]]] = {}
    for table, load in (("breast cancer", datasets.load_breast_cancer), ("wine", datasets.load_wine)):
        x, y = load(return_X_y=True)
        for seed in range(5):
            train, test, anomalous = table_split(x, y, 0, seed)
            for name, s in _scores(train, test).items():
                results.setdefault(name, {}).setdefault(table, []).append(roc_auc_score(anomalous, s))
    for name, per_table in results.items():
        cells = [f"{np.mean(v):.3f} ± {np.std(v, ddof=1):.3f}" for v in per_table.values()]
        print(f"| {name} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
