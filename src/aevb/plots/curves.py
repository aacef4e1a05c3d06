"""Training curves from a run's ``metrics.jsonl``: the bound, its reconstruction term and its KL, per epoch.

Keys read (each optional except ``epoch``): ``train_bound`` (the running average of the training objective over
the epoch), ``test_elbo``, and ``{train,test}_{recon,kl}`` logged by ``aevb.training.callbacks.TermsLogger``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aevb.errors import ConfigError
from aevb.plots.common import pyplot, save_figure

PANELS = (
    ("lower bound (nats, higher is better)", (("train_bound", "train (epoch average)"), ("test_elbo", "test"))),
    ("reconstruction E_q[log p(x|z)] (nats)", (("train_recon", "train"), ("test_recon", "test"))),
    ("KL(q(z|x) || p(z)) (nats)", (("train_kl", "train"), ("test_kl", "test"))),
    ("log p(x, z) at MCEM's samples (nats; not a bound)", (("train_log_joint", "train"),)),
)
"""The panels ``training_curves`` can draw: (title, ((key of a record, legend label), ...)); a panel is drawn when some
record holds one of its keys."""


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    """The records of a run's ``metrics.jsonl``, one per logged line (each epoch's, and a second stage's).

    Parameters
    ----------
    run_dir : str or Path
        The run directory.

    Returns
    -------
    list of dict
        The parsed JSON lines in file order (blank lines skipped).

    Raises
    ------
    ConfigError
        If ``run_dir`` has no ``metrics.jsonl`` (not a run directory, or no epoch has finished).
    """
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        raise ConfigError(f"{run_dir} has no metrics.jsonl (is it a run directory, and has an epoch finished?)")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def training_curves(records: list[dict[str, Any]], out: str | Path, title: str = "") -> Path:
    """One panel per quantity that was logged, train and test against the epoch, written as a PNG.

    The panels (``PANELS``) are the lower bound (``train_bound``, the epoch's running average, and ``test_elbo``), the
    reconstruction term ``E_q[log p(x|z)]`` and KL(q(z|x) ‖ p(z)), all in nats; a panel is drawn when some record holds
    one of its keys.

    Parameters
    ----------
    records : list of dict
        The run's records (``read_metrics``), each with an ``epoch``.
    out : str or Path
        The PNG file to write.
    title : str, default ""
        A title above the panels; empty: none.

    Returns
    -------
    Path
        The PNG written, ``out``.

    Raises
    ------
    ConfigError
        If ``records`` is empty (the run has not finished an epoch) or holds none of the keys of ``PANELS``.
    """
    if not records:
        raise ConfigError("no metrics to plot: the run has not finished an epoch")
    panels = [(name, keys) for name, keys in PANELS if any(k in r for r in records for k, _ in keys)]
    if not panels:
        known = ", ".join(k for _, keys in PANELS for k, _ in keys)
        raise ConfigError(f"no curve to draw: the records hold none of {known}")
    plt = pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.6), squeeze=False)
    for ax, (name, keys) in zip(axes[0], panels, strict=True):
        for key, label in keys:
            points = [(r["epoch"], r[key]) for r in records if r.get(key) is not None]
            if points:
                xs, ys = zip(*points, strict=True)
                ax.plot(xs, ys, marker="o" if len(xs) < 30 else None, markersize=3, label=label)
        ax.set_xlabel("epoch")
        ax.set_title(name, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, out)
