"""Choosing aevb's one-class detector on VALIDATION data only (never the test anomalies).

For each class of MNIST / Fashion-MNIST: fit on a seeded 90 % of its training images, score the other 10 % and
other classes' training images (aevb.reproduce.one_class._validation_split), and compute candidate scores from the
one fitted model. Prints and writes mean AUROC per candidate.

    python benchmarks/one_class_design/explore.py VARIANT OUT.csv      # VARIANT: bernoulli | gaussian
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from aevb.reproduce.common import Options, load_split
from aevb.reproduce.one_class import _validation_split
from aevb.sklearn import VAEOutlierDetector

VARIANTS = {
    "bernoulli": dict(),
    "gaussian": dict(likelihood="gaussian", standardize=False),
    "bernoulli-50": dict(epochs=50),
}


@torch.no_grad()
def candidates(det: VAEOutlierDetector, train: np.ndarray, rows: np.ndarray) -> dict[str, np.ndarray]:
    model = det.model_
    xt, xr = det._to_model(det._check_input(train, reset=False)), det._to_model(det._check_input(rows, reset=False))

    def parts(x):
        mu = model.encode(x).mean
        rec = model.reconstruct(x)
        return mu.reshape(len(x), -1).double(), (x - rec).reshape(len(x), -1).double()

    mu_t, res_t = parts(xt)
    mu_r, res_r = parts(xr)
    x_t = xt.reshape(len(xt), -1).double()
    out = {}
    se_t, se_r = res_t.pow(2).sum(1), res_r.pow(2).sum(1)
    out["sqerr"] = se_r
    resvar = res_t.pow(2).mean(0)
    datavar = x_t.var(0)
    for f in (1e-4, 1e-3, 1e-2, 1e-1):
        out[f"res-std f={f:g}"] = (res_r.pow(2) / (resvar + f)).sum(1)
        out[f"data-std f={f:g}"] = (res_r.pow(2) / (datavar + f)).sum(1)
        # Gaussian NLL of the residual with ML per-pixel variance (+ floor): log-det is constant, so same as above
    t2_prior_t, t2_prior_r = mu_t.pow(2).sum(1), mu_r.pow(2).sum(1)
    out["T2 prior"] = t2_prior_r
    m, cov = mu_t.mean(0), torch.cov(mu_t.T) + 1e-6 * torch.eye(mu_t.shape[1], dtype=torch.float64)
    prec = torch.linalg.inv(cov)
    d = mu_r - m
    t2_r = (d @ prec * d).sum(1)
    dt = mu_t - m
    t2_t = (dt @ prec * dt).sum(1)
    out["T2 aggregate"] = t2_r
    out["sqerr+T2agg (median-normalized)"] = se_r / se_t.median() + t2_r / t2_t.median()
    out["sqerr+T2prior (median-normalized)"] = se_r / se_t.median() + t2_prior_r / t2_prior_t.median()
    rs_t = (res_t.pow(2) / (resvar + 1e-2)).sum(1)
    rs_r = out["res-std f=0.01"]
    out["res-std.01+T2agg"] = rs_r / rs_t.median() + t2_r / t2_t.median()
    # latent kNN (k=5) to the training means
    dist = torch.cdist(mu_r, mu_t)
    out["latent kNN5"] = dist.topk(5, largest=False).values.mean(1)
    return {k: v.numpy() for k, v in out.items()}


def main() -> None:
    variant, out_csv = sys.argv[1], sys.argv[2]
    datasets = sys.argv[3].split(",") if len(sys.argv) > 3 else ["mnist", "fashion-mnist"]
    opts = Options(device="cpu")
    lines = ["dataset,class,candidate,auroc"]
    for dataset in datasets:
        tr = load_split(dataset, "train", opts)
        x, y = tr.x.numpy(), tr.y.numpy()
        for c in range(10):
            t0 = time.perf_counter()
            normal, rows, anomalous = _validation_split(x[y == c], x[y != c], 2000, 0)
            params = dict(epochs=20, device="cpu", random_state=0) | VARIANTS[variant]
            det = VAEOutlierDetector(**params).fit(normal)
            for name, s in candidates(det, normal, rows).items():
                lines.append(f"{dataset},{c},{name},{roc_auc_score(anomalous, s):.4f}")
            print(dataset, c, f"{time.perf_counter() - t0:.0f}s", flush=True)
            Path(out_csv).write_text("\n".join(lines) + "\n")
    import pandas as pd

    df = pd.read_csv(out_csv)
    print(df.groupby(["dataset", "candidate"]).auroc.mean().unstack(0).round(3).to_string())


if __name__ == "__main__":
    main()
