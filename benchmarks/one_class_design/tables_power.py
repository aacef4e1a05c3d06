"""Validation tasks only (those of tables.py): a Yeo-Johnson power transform (scikit-learn's PowerTransformer, fitted
on the training rows) before the default Gaussian VAE, its `nll` taken in the transformed space and with the
transform's log-Jacobian added (so that it is −log p(x) of the data as given), against the default.

    python benchmarks/one_class_design/tables_power.py OUT.csv
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import PowerTransformer

from aevb.reproduce.one_class import table_split
from aevb.sklearn import VAEOutlierDetector

sys.path.insert(0, str(Path(__file__).parent))
from tables import TASKS  # noqa: E402


def yeo_johnson_log_jacobian(transform: PowerTransformer, x: np.ndarray) -> np.ndarray:
    """log |dψ(x)/dx| per row: (λ − 1) log(1 + x) where x ≥ 0, (1 − λ) log(1 − x) below, minus the scaler's logs."""
    lam, positive = transform.lambdas_, x >= 0
    per_feature = np.where(
        positive, (lam - 1) * np.log1p(np.where(positive, x, 0)), (1 - lam) * np.log1p(np.where(positive, 0, -x))
    )
    return per_feature.sum(1) - np.log(transform._scaler.scale_).sum()


def main() -> None:
    lines = ["task,seed,candidate,auroc"]
    for name, loader, normal_class in TASKS:
        x, y = loader(return_X_y=True)
        for seed in range(5):
            train, test, anomalous = table_split(x.astype(np.float64), y, normal_class, seed)
            default = VAEOutlierDetector(epochs=100, device="cpu", random_state=seed, anomaly_score="nll")
            scores = {"default nll": -default.fit(train.astype(np.float32)).score_samples(test.astype(np.float32))}
            power = PowerTransformer(method="yeo-johnson", standardize=True).fit(train)
            detector = VAEOutlierDetector(epochs=100, device="cpu", random_state=seed, anomaly_score="nll")
            log_p = detector.fit(power.transform(train).astype(np.float32)).score_samples(
                power.transform(test).astype(np.float32)
            )
            scores["yeo-johnson nll (transformed space)"] = -log_p
            scores["yeo-johnson nll (data space)"] = -(log_p + yeo_johnson_log_jacobian(power, test))
            for candidate, s in scores.items():
                lines.append(f"{name} class {normal_class},{seed},{candidate},{roc_auc_score(anomalous, s):.4f}")
            print(name, normal_class, seed, flush=True)
    Path(sys.argv[1]).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
