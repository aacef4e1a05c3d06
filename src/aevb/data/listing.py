"""Where the data live and which named datasets are there, without importing torch.

Nothing here imports torch, so ``aevb datasets`` lists the datasets at once.

Where files live: the ``data_dir`` argument, else ``$AEVB_DATA_DIR``, else ``~/.cache/aevb``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from aevb.data.catalog import DATASETS
from aevb.errors import DataError

ENV_DATA_DIR = "AEVB_DATA_DIR"
"""The environment variable that sets the data root when no ``data_dir`` is given."""
DEFAULT_DATA_DIR = "~/.cache/aevb"
"""The data root when neither ``data_dir`` nor ``$AEVB_DATA_DIR`` is set."""


class DatasetInfo(NamedTuple):
    """One row of ``list_datasets``.

    Attributes
    ----------
    name : str
        The dataset's name, as ``load_dataset`` takes it.
    description : str
        One line describing the dataset.
    location : str
        Where its files are or would go: the dataset's folder under the data root, the file inside a Python
        package (or ``python package 'NAME' (not installed)``), or the folder where generated data are cached.
    present : bool
        Whether the data can be loaded without a download: every file (or one of its alternatives) exists, the
        package is installed, or the data are generated here.
    """

    name: str
    description: str
    location: str
    present: bool


def data_root(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The data root: ``data_dir``, else ``$AEVB_DATA_DIR``, else ``~/.cache/aevb``.

    Parameters
    ----------
    data_dir : str or os.PathLike or None, default None
        The data root to use; ``None`` or ``""`` falls back to ``$AEVB_DATA_DIR`` (when set and not empty), else to
        ``~/.cache/aevb``.

    Returns
    -------
    pathlib.Path
        The data root with ``~`` expanded; it need not exist.
    """
    if data_dir is not None and os.fspath(data_dir) != "":
        return Path(data_dir).expanduser()
    env = os.environ.get(ENV_DATA_DIR, "")
    return Path(env or DEFAULT_DATA_DIR).expanduser()


def list_datasets(data_dir: str | os.PathLike[str] | None = None) -> list[DatasetInfo]:
    """One row per named dataset: name, description, where its files are (or would go), and whether present.

    Presence is a cheap check (the files exist); it neither reads nor verifies them.

    Parameters
    ----------
    data_dir : str or os.PathLike or None, default None
        The data root; default ``$AEVB_DATA_DIR``, else ``~/.cache/aevb`` (see ``data_root``).

    Returns
    -------
    list of DatasetInfo
        One ``DatasetInfo`` per entry of ``DATASETS``, in the catalog's order.
    """
    root = data_root(data_dir)
    rows = []
    for spec in DATASETS.values():
        if spec.package_file is not None:
            try:
                location, present = str(spec.package_file()), True
            except DataError:
                location, present = f"python package {spec.package!r} (not installed)", False
        elif spec.generate is not None:
            location, present = str(root / spec.subfolder), True  # rendered on first use
        else:
            folder = root / spec.subfolder if spec.subfolder else root
            present = all(any((folder / c.filename).is_file() for c in f.candidates()) for f in spec.files())
            location = str(folder)
        rows.append(DatasetInfo(spec.name, spec.description, location, present))
    return rows
