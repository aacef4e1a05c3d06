"""Candidate scores from the dumped residuals (dump.py), VALIDATION splits only: mean AUROC per dataset.

    python benchmarks/one_class_design/candidates.py DUMP_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score


def norm(s: np.ndarray, ref: np.ndarray) -> np.ndarray:
    med = np.median(ref)
    iqr = np.subtract(*np.percentile(ref, [75, 25])) or 1.0
    return (s - med) / iqr


def scores(d: dict) -> dict[str, np.ndarray]:
    r_fit, r_held, r_rows = (d[k].astype(np.float64) for k in ("r_fit", "r_held", "r_rows"))
    x_fit = d["x_fit"].astype(np.float64)
    v = (r_fit**2).mean(0)
    vh = (r_held**2).mean(0)
    dv = x_fit.var(0)
    out = {"sqerr": lambda r: (r**2).sum(1)}
    for f in (1e-4, 1e-3, 1e-2, 1e-1):
        out[f"res-std f={f:g}"] = lambda r, f=f: (r**2 / (v + f)).sum(1)
        out[f"held-res-std f={f:g}"] = lambda r, f=f: (r**2 / (vh + f)).sum(1)
        out[f"data-std f={f:g}"] = lambda r, f=f: (r**2 / (dv + f)).sum(1)
        for nu in (0.3, 1.0, 3.0):
            out[f"student nu={nu:g} f={f:g}"] = lambda r, f=f, nu=nu: np.log1p(r**2 / (nu * (v + f))).sum(1)
            out[f"data-student nu={nu:g} f={f:g}"] = lambda r, f=f, nu=nu: np.log1p(r**2 / (nu * (dv + f))).sum(1)
    out["abs err (L1)"] = lambda r: np.abs(r).sum(1)
    for p in (0.5, 1.0, 1.5):
        out[f"sum |r|^{p:g}"] = lambda r, p=p: (np.abs(r) ** p).sum(1)
    res = {k: f(r_rows) for k, f in out.items()}
    held = {k: f(r_held) for k, f in out.items()}
    for a, b in (("sqerr", "res-std f=0.001"), ("sqerr", "data-std f=0.01"), ("sqerr", "student nu=1 f=0.001")):
        res[f"{a} + {b}"] = norm(res[a], held[a]) + norm(res[b], held[b])
    return res


def main() -> None:
    rows = []
    for path in sorted(Path(sys.argv[1]).glob("*.npz")):
        dataset, c = path.stem.rsplit("_", 1)
        d = dict(np.load(path))
        for k, s in scores(d).items():
            rows.append((dataset, int(c), k, roc_auc_score(d["anomalous"], s)))
    df = pd.DataFrame(rows, columns=["dataset", "class", "candidate", "auroc"])
    table = df.groupby(["candidate", "dataset"]).auroc.mean().unstack(1)
    table["min"] = table.min(axis=1)
    pd.set_option("display.width", 200)
    print(table.round(4).sort_values("min").to_string())
    print(df.groupby("dataset")["class"].nunique())


if __name__ == "__main__":
    main()
