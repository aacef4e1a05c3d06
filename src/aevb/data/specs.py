"""Descriptions of named datasets: which files they need, where to fetch them, how to check and load them.

Nothing here imports torch: a loader returns NumPy :class:`Arrays`, which :func:`aevb.data.load_dataset` turns into
a :class:`~aevb.data.TensorData`, so that listing the datasets (``aevb datasets``) starts at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from aevb.data.dsprites import DSprites


@dataclass(frozen=True)
class Arrays:
    """One split as a loader reads it: ``x`` float32 ``[N, *event_shape]``, ``y`` int64 ``[N]`` or ``None``, and the
    fields :class:`~aevb.data.TensorData` takes with them."""

    x: np.ndarray
    y: np.ndarray | None
    name: str
    dynamic_binarize: bool = False


@dataclass(frozen=True)
class FileSpec:
    """One file a dataset needs.

    Attributes:
        filename: the file's name inside the dataset's subfolder of the data root.
        urls: where to download it: the canonical URL first, then mirrors.
        sha256: the accepted hex digests of the file's bytes (several when known good copies differ, e.g. a
            re-gzipped copy). Empty when no digest is published; then ``validate`` must vouch for the file.
        size: the size in bytes of the canonical file, for information (``None`` when unknown).
        validate: a content check for copies whose digest is not in ``sha256``; raises ``DataError``.
        alternatives: other files that can stand in for this one (e.g. the text ``.amat`` version of a
            ``.mat`` file); the first one present is used, and downloads try this file, then them, in order.
    """

    filename: str
    urls: tuple[str, ...] = ()
    sha256: frozenset[str] = frozenset()
    size: int | None = None
    validate: Callable[[Path], None] | None = None
    alternatives: tuple[FileSpec, ...] = ()

    def candidates(self) -> tuple[FileSpec, ...]:
        """This file followed by its alternatives."""
        return (self, *self.alternatives)


@dataclass(frozen=True)
class SplitSpec:
    """One split of a named dataset: its number of examples and its files by role (e.g. images, labels)."""

    size: int
    files: Mapping[str, FileSpec] = field(default_factory=dict)


Loader = Callable[[Mapping[str, Path], str], Arrays]
"""``loader(paths, split)``: read the split's :class:`Arrays` from its files (role -> local path)."""


@dataclass(frozen=True)
class DatasetSpec:
    """A named dataset.

    Attributes:
        name: the name users type (``aevb train --data NAME``).
        description: one line for ``aevb datasets``.
        subfolder: the folder under the data root that holds the files (``""`` when none are needed).
        splits: split name -> :class:`SplitSpec`.
        loader: builds a split from its files.
        package: for data that ships inside a Python package: the package's name (``""`` otherwise).
        package_file: for such data: returns the file's path, or raises ``DataError`` when the package is
            missing; these datasets need no files under the data root.
        notes: extra facts shown to users (how a seeded split was made, where files came from).
        generate: for data rendered here: makes (or checks) the cached files in the dataset's folder and returns
            them by role; these datasets download nothing.
        ground_truth: for data with known generative factors: builds the factor sampler (see
            :class:`aevb.data.dsprites.DSprites`) from its files by role.
    """

    name: str
    description: str
    subfolder: str
    splits: Mapping[str, SplitSpec]
    loader: Loader
    package: str = ""
    package_file: Callable[[], Path] | None = None
    notes: str = ""
    generate: Callable[[Path], Mapping[str, Path]] | None = None
    ground_truth: Callable[[Mapping[str, Path]], DSprites] | None = None

    def files(self) -> list[FileSpec]:
        """Every distinct file of every split, in order of first use."""
        seen: dict[str, FileSpec] = {}
        for split in self.splits.values():
            for spec in split.files.values():
                seen.setdefault(spec.filename, spec)
        return list(seen.values())
