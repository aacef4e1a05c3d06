"""Second round, on VALIDATION data only: a Gaussian model of the reconstruction residual whose per-pixel variance is
fitted to the training residuals, its floor chosen by the likelihood of held-out NORMAL rows (no anomaly seen), and
ensembles over seeds.

    python benchmarks/one_class_design/calibrated.py DATASET OUT.csv [EPOCHS] [SEEDS]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch
from dump import inner_split
from sklearn.metrics import roc_auc_score

from aevb.reproduce.common import Options, load_split
from aevb.reproduce.one_class import _validation_split
from aevb.sklearn import VAEOutlierDetector

FLOORS = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0)


@torch.no_grad()
def residuals(det: VAEOutlierDetector, x: np.ndarray) -> np.ndarray:
    t = det._to_model(det._check_input(x, reset=False))
    return (t - det.model_.reconstruct(t)).reshape(len(t), -1).double().numpy()


def gauss_nll(r: np.ndarray, var: np.ndarray) -> np.ndarray:
    return 0.5 * ((r**2) / var + np.log(2 * np.pi * var)).sum(1)


def main() -> None:
    dataset, out_csv = sys.argv[1], sys.argv[2]
    epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    seeds = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    opts = Options(device="cpu")
    tr = load_split(dataset, "train", opts)
    x, y = tr.x.numpy(), tr.y.numpy()
    lines = ["dataset,class,candidate,auroc,extra"]
    for c in range(10):
        t0 = time.perf_counter()
        normal, rows, anomalous = _validation_split(x[y == c], x[y != c], 2000, 0)
        fit, held = inner_split(normal)
        per_seed = {}
        for seed in range(seeds):
            det = VAEOutlierDetector(epochs=epochs, device="cpu", random_state=seed).fit(fit)
            r_fit, r_held, r_rows = residuals(det, fit), residuals(det, held), residuals(det, rows)
            v = (r_fit**2).mean(0)
            nll_held = [gauss_nll(r_held, v + f).mean() for f in FLOORS]
            f_star = FLOORS[int(np.argmin(nll_held))]
            v_held = (r_held**2).mean(0)
            nll_held2 = [gauss_nll(r_fit, v_held + f).mean() for f in FLOORS]  # cross: held variance, fit rows
            f_star2 = FLOORS[int(np.argmin(nll_held2))]
            s = {
                "sqerr": (r_rows**2).sum(1),
                "calibrated (train var, floor by held-out lik.)": gauss_nll(r_rows, v + f_star),
                "calibrated (held var, floor by train lik.)": gauss_nll(r_rows, v_held + f_star2),
            }
            # normalize each score by its held-out normal rows: median and IQR, so seeds average on one scale
            ref = {
                "sqerr": (r_held**2).sum(1),
                "calibrated (train var, floor by held-out lik.)": gauss_nll(r_held, v + f_star),
                "calibrated (held var, floor by train lik.)": gauss_nll(r_held, v_held + f_star2),
            }
            for k, val in s.items():
                if k in ref:
                    med = np.median(ref[k])
                    iqr = np.subtract(*np.percentile(ref[k], [75, 25])) or 1.0
                    per_seed.setdefault(k, []).append((val - med) / iqr)
                if seed == 0 and k in ref:
                    lines.append(
                        f"{dataset},{c},{k} [seed 0],{roc_auc_score(anomalous, val):.4f},f*={f_star:g}/{f_star2:g}"
                    )
        for k, vals in per_seed.items():
            lines.append(f"{dataset},{c},{k} [{seeds}-seed ensemble],{roc_auc_score(anomalous, np.mean(vals, 0)):.4f},")
        print(dataset, c, f"{time.perf_counter() - t0:.0f}s", lines[-4:], flush=True)
        Path(out_csv).write_text("\n".join(lines) + "\n")
    import pandas as pd

    df = pd.read_csv(out_csv)
    print(df.groupby(["candidate"]).auroc.mean().round(3).to_string())


if __name__ == "__main__":
    main()
