"""Where the data live and which named datasets are there, without importing torch (``aevb datasets`` lists them
at once).

Where files live: the ``data_dir`` argument, else ``$AEVB_DATA_DIR``, else ``~/.cache/aevb``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from aevb.data.catalog import DATASETS
from aevb.errors import DataError

ENV_DATA_DIR = "AEVB_DATA_DIR"
DEFAULT_DATA_DIR = "~/.cache/aevb"


class DatasetInfo(NamedTuple):
    """One row of :func:`list_datasets`."""

    name: str
    description: str
    location: str
    present: bool


def data_root(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The data root: ``data_dir``, else ``$AEVB_DATA_DIR``, else ``~/.cache/aevb``."""
    if data_dir is not None and os.fspath(data_dir) != "":
        return Path(data_dir).expanduser()
    env = os.environ.get(ENV_DATA_DIR, "")
    return Path(env or DEFAULT_DATA_DIR).expanduser()


def list_datasets(data_dir: str | os.PathLike[str] | None = None) -> list[DatasetInfo]:
    """One row per named dataset: name, description, where its files are (or would go), and whether present.

    Presence is a cheap check (the files exist); it neither reads nor verifies them.
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
