"""Fit the default detector per class on VALIDATION splits and save what scores are computed from (residuals of the
reconstruction at the posterior mean, codes), so candidate scores can be compared without retraining.

    python benchmarks/one_class_design/dump.py DATASET OUT_DIR [EPOCHS]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

from aevb.reproduce.common import Options, load_split
from aevb.reproduce.one_class import _validation_split
from aevb.sklearn import VAEOutlierDetector


@torch.no_grad()
def parts(det: VAEOutlierDetector, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = det._to_model(det._check_input(x, reset=False))
    r = (t - det.model_.reconstruct(t)).reshape(len(t), -1).float().numpy()
    return r, det.model_.encode(t).mean.float().numpy()


def inner_split(normal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The validation fit rows split again, seeded: 90 % to train on, 10 % of held-out normal rows (for choices that
    may look only at normal data, such as a variance floor)."""
    perm = np.random.default_rng(1).permutation(len(normal))
    n_fit = int(round(0.9 * len(normal)))
    return normal[perm[:n_fit]], normal[perm[n_fit:]]


def main() -> None:
    dataset, out = sys.argv[1], Path(sys.argv[2])
    epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    out.mkdir(parents=True, exist_ok=True)
    tr = load_split(dataset, "train", Options(device="cpu"))
    x, y = tr.x.numpy(), tr.y.numpy()
    for c in range(10):
        t0 = time.perf_counter()
        normal, rows, anomalous = _validation_split(x[y == c], x[y != c], 2000, 0)
        fit, held = inner_split(normal)
        det = VAEOutlierDetector(epochs=epochs, device="cpu", random_state=0).fit(fit)
        arrays = {}
        for name, data in (("fit", fit), ("held", held), ("rows", rows)):
            arrays[f"r_{name}"], arrays[f"mu_{name}"] = parts(det, data)
            arrays[f"x_{name}"] = data.reshape(len(data), -1)
        np.savez(out / f"{dataset}_{c}.npz", anomalous=anomalous, **arrays)
        print(dataset, c, f"{time.perf_counter() - t0:.0f}s", flush=True)


if __name__ == "__main__":
    main()
