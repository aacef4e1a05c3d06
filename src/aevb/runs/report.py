"""``aevb report RUN``: one self-contained HTML file describing a run — config, curves, metrics, pictures.

Every image is embedded as a base64 ``data:`` URI and the style sheet is inline, so the file can be mailed or
archived on its own and opens with no network and no other files.
"""

from __future__ import annotations

import base64
import html
import json
import math
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aevb.atomic import write_text_atomic
from aevb.errors import AevbError, ConfigError
from aevb.plots.curves import read_metrics
from aevb.runs.plot import DATA_KINDS, plot_run
from aevb.runs.rundir import Run
from aevb.runs.scores import OOD_FILE
from aevb.runs.tasks import evaluate_run

# Pictures shown in the report, in order, with a caption each (kinds of aevb.runs.plot.PLOT_KINDS).
SECTIONS = (
    ("curves", "Training curves: the lower bound, its reconstruction term and its KL per epoch (nats per datapoint)."),
    ("samples", "Samples: decoder means at the run's fixed z ~ p(z) (fixed_z.safetensors)."),
    ("recon", "Reconstructions: rows of test data, each followed by its reconstruction at the posterior mean."),
    (
        "scatter",
        "Posterior means E_q[z|x] of test data, coloured by label when the data have labels (PCA above 3 dimensions).",
    ),
    ("manifold", "The learned 2-D manifold: decoder means over z = Φ⁻¹(u), u on a grid of the unit square."),
    ("interp", "Interpolations between two test encodings: a linear row, then a spherical row, per pair."),
    ("traverse", "Latent traversals: row d moves z_d from μ_d − 3 to μ_d + 3 around the encoding of one test point."),
)
COLUMNS = (
    ("epoch", "epoch"),
    ("samples_seen", "samples seen"),
    ("train_bound", "train bound"),
    ("test_elbo", "test ELBO"),
    ("train_recon", "train recon"),
    ("train_kl", "train KL"),
    ("test_recon", "test recon"),
    ("test_kl", "test KL"),
    ("epoch_seconds", "seconds"),
)
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: min(1100px, 94vw);
       color: #222; background: #fff; }
h1 { font-size: 1.6em; }
h2 { font-size: 1.2em; border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 1.6em; }
pre { background: #f5f5f5; padding: .8em; overflow-x: auto; font-size: .85em; }
table { border-collapse: collapse; font-size: .85em; } td, th { border: 1px solid #ccc; padding: .25em .6em; }
td { text-align: right; font-variant-numeric: tabular-nums; } th { background: #eee; }
figure { margin: 1em 0; } img { max-width: 100%; image-rendering: pixelated; border: 1px solid #ddd; }
figcaption { font-size: .9em; color: #555; } .note { color: #a33; }
"""


def data_uri(path: str | Path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def _figure(path: Path, caption: str) -> str:
    return f'<figure><img src="{data_uri(path)}" alt="{html.escape(caption)}"><figcaption>{html.escape(caption)}'
    "</figcaption></figure>"


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if math.isfinite(value) else str(value)
    return html.escape(str(value))


def metrics_table(records: list[dict[str, Any]], max_rows: int = 60) -> str:
    """The per-epoch metrics; long runs show the first and last rows."""
    columns = [(k, name) for k, name in COLUMNS if any(k in r for r in records)]
    shown = records if len(records) <= max_rows else records[: max_rows // 2] + records[-max_rows // 2 :]
    head = "".join(f"<th>{html.escape(name)}</th>" for _, name in columns)
    rows = ["<tr>" + "".join(f"<td>{_number(r.get(k, ''))}</td>" for k, _ in columns) + "</tr>" for r in shown]
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _data_unavailable(run_dir: Path, split: str = "test") -> str | None:
    """Why the run's ``split`` cannot be read here (e.g. the dataset is neither in ``$AEVB_DATA_DIR`` nor
    downloadable), or None when it can. Tried once, so a missing dataset costs one attempt, not one per picture."""
    try:
        Run(run_dir).data(split)
    except AevbError as err:
        return str(err)
    return None


def write_report(
    run_dir: str | Path, out: str | Path | None = None, nll_samples: int = 0, skipped: list[str] | None = None
) -> Path:
    """Write the HTML report of ``run_dir`` to ``out`` (default ``run_dir/report.html``) and return its path. What the
    page leaves out (a picture that could not be drawn, and why) is appended to ``skipped``, one line each."""
    skipped = [] if skipped is None else skipped
    run_dir = Path(run_dir)
    config_path = run_dir / "config.toml"
    if not config_path.is_file():
        raise ConfigError(f"{run_dir} is not a run directory: config.toml is missing")
    out = Path(out) if out else run_dir / "report.html"
    records = read_metrics(run_dir) if (run_dir / "metrics.jsonl").is_file() else []
    body = [f"<h1>aevb run report: {html.escape(run_dir.name)}</h1>"]
    body.append(
        f"<p>Run directory <code>{html.escape(str(run_dir.resolve()))}</code>; written "
        f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}. Bounds are per datapoint in nats (higher is better); "
        "−log p(x) is lower-is-better.</p>"
    )
    if nll_samples:
        ev = evaluate_run(run_dir, nll_samples=nll_samples)
        body.append("<h2>Test evaluation</h2>")
        body.append(
            f"<p>n = {ev.n}: ELBO {ev.elbo:.3f} ± {ev.elbo_stderr:.3f} nats; −log p(x) {ev.nll:.3f} ± "
            f"{ev.nll_stderr:.3f} nats (importance sampling, K = {nll_samples}).</p>"
        )
    body.append("<h2>Metrics per epoch</h2>")
    body.append(metrics_table(records) if records else '<p class="note">no epoch has finished yet</p>')
    with tempfile.TemporaryDirectory() as tmp:
        body.append("<h2>Pictures</h2>")
        no_data = _data_unavailable(run_dir)
        if no_data:
            without = [kind for kind, _ in SECTIONS if kind in DATA_KINDS]
            note = f"{', '.join(without)}: not drawn, the run's test data cannot be read here ({no_data})"
            body.append(f'<p class="note">{html.escape(note)}</p>')
            skipped.append(note)
        for kind, caption in SECTIONS:
            if no_data and kind in DATA_KINDS:
                continue
            try:
                paths = plot_run(run_dir, [kind], tmp)
            except (AevbError, ValueError) as err:  # e.g. data that are not images
                body.append(f'<p class="note">{html.escape(kind)}: not drawn ({html.escape(str(err))})</p>')
                skipped.append(f"{kind}: not drawn ({err})")
                continue
            body += [_figure(p, caption) for p in paths]
        body += _progress_pictures(run_dir / "pictures")
    body += _ood_section(run_dir / "ood")
    body.append(f"<h2>Configuration</h2><pre>{html.escape(config_path.read_text())}</pre>")
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>aevb report: {html.escape(run_dir.name)}</title><style>{STYLE}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )
    write_text_atomic(out, page)
    return out


def _progress_pictures(folder: Path) -> list[str]:
    """The per-epoch sample and reconstruction grids the trainer wrote (``picture_epochs``), side by side."""
    samples = sorted(folder.glob("samples_epoch*.png"))
    if not samples:
        return []
    parts = [
        "<h2>Progress over training (fixed z, fixed test points)</h2><table><tr><th>epoch</th>"
        "<th>samples</th><th>reconstructions</th></tr>"
    ]
    for path in samples:
        epoch = path.stem.removeprefix("samples_epoch")
        recon = folder / f"recon_epoch{epoch}.png"
        cells = [f'<img src="{data_uri(path)}" alt="samples at epoch {int(epoch)}">']
        cells.append(f'<img src="{data_uri(recon)}" alt="reconstructions">' if recon.is_file() else "")
        parts.append(f"<tr><th>{int(epoch)}</th>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    parts.append("</table>")
    return parts


def _ood_section(folder: Path) -> list[str]:
    """What ``aevb ood`` measured (``RUN/ood/ood.json``): a row per score, then the ROC curves and histograms."""
    path = folder / OOD_FILE
    if not path.is_file():
        return []
    summary = json.loads(path.read_text())
    rows = "".join(
        f"<tr><td>{html.escape(kind)}</td><td>{m['auroc']:.3f}</td><td>{m['auprc']:.3f}</td>"
        f"<td>{m['fpr_at_95_tpr']:.3f}</td></tr>"
        for kind, m in summary["metrics"].items()
    )
    parts = [
        "<h2>Out-of-distribution detection</h2>",
        f"<p>In: {html.escape(summary['in'])} ({summary['n_in']}), out: {html.escape(summary['out'])} "
        f"({summary['n_out']}); out-of-distribution is the positive class, higher scores are more anomalous.</p>",
        f"<table><tr><th>score</th><th>AUROC</th><th>AUPRC</th><th>FPR at 95 % TPR</th></tr>{rows}</table>",
    ]
    pictures = [folder / "roc.png", *sorted(folder.glob("hist_*.png")), *sorted(folder.glob("top_*.png"))]
    parts += [_figure(p, _ood_caption(p.stem)) for p in pictures if p.is_file()]
    return parts


def _ood_caption(stem: str) -> str:
    kind, _, score = stem.partition("_")
    if kind == "hist":
        return f"{score}: histograms of the in- and out-of-distribution scores"
    if kind == "top":
        return f"{score}: the inputs it scores highest, both sets together, most anomalous first (top_{score}.csv)"
    return "ROC curves of every score"
