"""``aevb disentanglement RUN``: the disentanglement metrics of a run trained on data with known factors."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from aevb.atomic import write_text_atomic
from aevb.data import load_ground_truth
from aevb.data.download import sha256_file
from aevb.data.dsprites import DSprites
from aevb.io import WEIGHTS
from aevb.metrics.disentanglement import (
    Representation,
    disentanglement,
    factor_codes,
    mig_from_mutual_information,
    mutual_information,
)
from aevb.plots.grids import encode_mean
from aevb.plots.heatmap import save_heatmap
from aevb.runs.rundir import Run, require_sklearn

ALL_METRICS = ("beta_vae", "factor_vae", "mig", "dci")


def posterior_means(model: nn.Module) -> Representation:
    """The representation disentanglement_lib scores for a VAE: the posterior mean E_q[z|x]."""

    def represent(x: np.ndarray) -> np.ndarray:
        return encode_mean(model, torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))).numpy()

    return represent


def ground_truth(run: Run) -> DSprites:
    """The factor sampler of the run's dataset (a :class:`DataError` names the datasets that have one)."""
    train = run.config.train
    return load_ground_truth(train.dataset, train.data_dir or None, download=train.download)


def disentanglement_run(
    run_dir: str | Path,
    metrics: tuple[str, ...] | list[str] = ALL_METRICS,
    *,
    num_train: int = 10_000,
    num_eval: int = 5_000,
    seed: int = 0,
    mi_points: int = 10_000,
    reuse: bool = False,
) -> dict[str, Any]:
    """Every metric of ``metrics`` for the run's posterior means, and I(z_j; v_k) over ``max(num_train, mi_points)``
    observations (the plug-in estimate with 20 bins is biased up by about (20 − 1)(classes − 1) / 2N nats: 0.37 nats
    for the 40 orientations at N = 1,000, so the heat map never uses fewer than 10,000), with the MIG of those same
    observations (``mig_at_mutual_information_points``: disentanglement_lib's 10,000 points even when the metrics
    were asked for fewer, at the cost of one histogram).

    Writes ``RUN/disentanglement/disentanglement.json`` and ``mutual_information.png`` (a heat map: latents ×
    factors, nats) and returns the JSON's content. With ``reuse``, a JSON already written for the same weights
    (their sha256) and the same arguments is returned as it is: an experiment that reruns only to rebuild its table
    then spends no minutes rescoring runs that did not change.
    """
    require_sklearn("aevb disentanglement")
    run = Run(run_dir)
    folder = run.dir / "disentanglement"
    key = {
        "weights_sha256": sha256_file(run.dir / WEIGHTS),
        "metrics_requested": list(metrics),
        "num_train": num_train,
        "num_eval": num_eval,
        "seed": seed,
        "mi_points_requested": mi_points,
    }
    if reuse:
        cached = _cached(folder / "disentanglement.json", key)
        if cached is not None:
            return cached
    model = run.model.eval()
    truth = ground_truth(run)
    represent = posterior_means(model)
    start = time.perf_counter()
    scores = disentanglement(truth, represent, list(metrics), seed=seed, num_train=num_train, num_eval=num_eval)
    mi_n = max(num_train, mi_points)
    codes, classes = factor_codes(truth, represent, mi_n, np.random.default_rng([seed, 99]))
    mi = mutual_information(codes, classes)
    result = {
        "metrics": scores,
        "mutual_information_nats": mi.tolist(),
        "mig_at_mutual_information_points": mig_from_mutual_information(mi, classes, truth.factor_names),
        "factor_names": list(truth.factor_names),
        "mutual_information_points": mi_n,
        "representation": "posterior mean E_q[z|x]",
        "seconds": time.perf_counter() - start,
        **key,  # num_train, num_eval, seed and what identifies the weights, for reuse
    }
    folder.mkdir(exist_ok=True)
    write_text_atomic(folder / "disentanglement.json", json.dumps(result, indent=2) + "\n")
    save_heatmap(
        mi,
        [f"z{j}" for j in range(mi.shape[0])],
        list(truth.factor_names),
        folder / "mutual_information.png",
        title=f"I(z_j; v_k), {mi_n} observations, 20 bins",
        unit="nats",
    )
    return result


def _cached(path: Path, key: dict[str, Any]) -> dict[str, Any] | None:
    """The result stored at ``path`` when it was computed with exactly ``key``; None otherwise (absent, unreadable,
    written by an older aevb without the key, or for other weights or arguments)."""
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(stored, dict) or any(stored.get(k) != v for k, v in key.items()):
        return None
    return stored
