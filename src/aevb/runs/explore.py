"""``aevb explore``: open one or two runs as :class:`~aevb.explore.LatentSpace` objects and serve them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from aevb.errors import ConfigError
from aevb.explore import LatentSpace, bind, export_page, server, url
from aevb.runs.rundir import Run
from aevb.scoring import score


def latent_spaces(
    runs: Sequence[str | Path], split: str = "test", points: int = 2000, color_by: str | None = None
) -> list[LatentSpace]:
    """The latent space of each run with ``points`` evenly spaced datapoints of its ``split``; with ``color_by``,
    each point carries that anomaly score (:data:`aevb.scoring.SCORES`; higher = more anomalous)."""
    if not 1 <= len(runs) <= 2:
        raise ConfigError(f"aevb explore shows one run or two side by side; got {len(runs)}")
    if points < 2:
        raise ConfigError(f"--points must be at least 2, got {points}")
    spaces = []
    for run_dir in runs:
        run = Run(run_dir)
        x, context, y = run.points(split, points)
        color = None
        if color_by:
            color = score(run.model, x, [color_by], context=context, seed=run.config.train.seed)
            color = next(iter(color.values())).double().cpu().numpy()
        spaces.append(
            LatentSpace(run.model, x, y, name=Path(run_dir).name or str(run_dir), color=color, color_name=color_by)
        )
    return spaces


def explore_run(
    runs: Sequence[str | Path],
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    split: str = "test",
    points: int = 2000,
    color_by: str | None = None,
    announce: Callable[[str], None] = print,
) -> None:
    """Serve the explorer of ``runs`` on ``host``:``port`` until Ctrl-C; ``announce`` gets the URL."""
    spaces = latent_spaces(runs, split, points, color_by)
    sock = bind(host, port)
    app_server = server(spaces, sock)
    announce(f"aevb explore: {url(sock)}  (Ctrl-C stops it)")
    try:
        app_server.run(sockets=[sock])
    finally:
        sock.close()


def export_explorer(
    runs: Sequence[str | Path],
    folder: str | Path,
    *,
    split: str = "test",
    points: int = 2000,
    color_by: str | None = None,
) -> Path:
    """Write the explorer of ``runs`` as a static page into ``folder`` (:func:`aevb.explore.export_page`)."""
    return export_page(latent_spaces(runs, split, points, color_by), folder)
