"""Candidate scores from the dumped residuals (dump.py), VALIDATION splits only: mean AUROC per dataset.

python benchmarks/one_class_design/candidates.py DUMP_DIR
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
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


def png_bits(x: np.ndarray) -> np.ndarray:
    """Serrà et al.'s complexity L(x): bits of the 8-bit image as PNG (level 9)."""
    out = []
    for row in x:
        image = Image.fromarray((np.clip(row, 0, 1) * 255).round().astype(np.uint8).reshape(28, 28), mode="L")
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", compress_level=9)
        out.append(8 * buffer.getbuffer().nbytes)
    return np.array(out, float)


def complexity_corrected(d: dict) -> dict[str, np.ndarray]:
    """The second round: the reconstruction error divided by a measure of the input's complexity (the likelihood's
    complexity bias has a counterpart in the reconstruction error: blurred edges)."""
    r, x = d["r_rows"].astype(np.float64), d["x_rows"].astype(np.float64)
    se = (r**2).sum(1)
    images = x.reshape(-1, 28, 28)
    dy, dx = np.diff(images, axis=1), np.diff(images, axis=2)
    tv = np.abs(dy).sum((1, 2)) + np.abs(dx).sum((1, 2))
    energy = (dy**2).sum((1, 2)) + (dx**2).sum((1, 2))
    bits = png_bits(x)
    out = {
        "sqerr / PNG bits": se / bits,
        "sqerr / |x|_1": se / (np.abs(x).sum(1) + 1e-3),
        "sqerr / TV(x) (sum |grad|)": se / (tv + 1e-3),
        "sqerr / (|grad x|^2 + 1e-3)  [relerr]": se / (energy + 1e-3),
        "|r|_1 / TV(x)": np.abs(r).sum(1) / (tv + 1e-3),
    }
    for alpha in (0.5, 1.0, 1.5, 2.0):
        out[f"log sqerr - {alpha:g} log TV"] = np.log(se) - alpha * np.log(tv + 1e-3)
    return out


def main() -> None:
    rows = []
    for path in sorted(Path(sys.argv[1]).glob("*.npz")):
        dataset, c = path.stem.rsplit("_", 1)
        d = dict(np.load(path))
        for k, s in (scores(d) | complexity_corrected(d)).items():
            rows.append((dataset, int(c), k, roc_auc_score(d["anomalous"], s)))
    df = pd.DataFrame(rows, columns=["dataset", "class", "candidate", "auroc"])
    table = df.groupby(["candidate", "dataset"]).auroc.mean().unstack(1)
    table["min"] = table.min(axis=1)
    pd.set_option("display.width", 200)
    print(table.round(4).sort_values("min").to_string())
    print(df.groupby("dataset")["class"].nunique())


if __name__ == "__main__":
    main()
