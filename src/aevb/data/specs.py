"""Descriptions of named datasets: which files they need, where to fetch them, how to check and load them.

Nothing here imports torch: a loader returns NumPy ``Arrays``, which ``aevb.data.load_dataset`` turns into
a ``TensorData``, so that listing the datasets (``aevb datasets``) starts at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from aevb.data.dsprites import DSprites


@dataclass(frozen=True)
class Arrays:
    """One split as a loader reads it: NumPy arrays and the fields ``aevb.data.TensorData`` takes with them.

    Parameters
    ----------
    x : numpy.ndarray
        The examples, float32 ``[N, *event_shape]``.
    y : numpy.ndarray or None
        The labels, int64 ``[N]``, or ``None`` for unlabelled data.
    name : str
        What the data is called in messages (the dataset's name).
    dynamic_binarize : bool, default False
        Whether the trainer draws a fresh Bernoulli sample of every batch (``TensorData.dynamic_binarize``).
    """

    x: np.ndarray
    y: np.ndarray | None
    name: str
    dynamic_binarize: bool = False


@dataclass(frozen=True)
class FileSpec:
    """One file a dataset needs.

    Parameters
    ----------
    filename : str
        The file's name inside the dataset's subfolder of the data root.
    urls : tuple of str, default ()
        Where to download it: the canonical URL first, then mirrors.
    sha256 : frozenset of str, default frozenset()
        The accepted hex digests of the file's bytes (several when known good copies differ, e.g. a re-gzipped
        copy). Empty when no digest is published; then ``validate`` must vouch for the file.
    size : int or None, default None
        The size in bytes of the canonical file, for information (``None`` when unknown).
    validate : Callable[[Path], None] or None, default None
        A content check for copies whose digest is not in ``sha256``: called with the file's path, it raises
        ``DataError`` to reject the file.
    alternatives : tuple of FileSpec, default ()
        Other files that can stand in for this one (e.g. the text ``.amat`` version of a ``.mat`` file); the first
        one present is used, and downloads try this file, then them, in order.
    """

    filename: str
    urls: tuple[str, ...] = ()
    sha256: frozenset[str] = frozenset()
    size: int | None = None
    validate: Callable[[Path], None] | None = None
    alternatives: tuple[FileSpec, ...] = ()

    def candidates(self) -> tuple[FileSpec, ...]:
        """The file itself followed by its alternatives.

        Returns
        -------
        tuple of FileSpec
            ``(self, *self.alternatives)``: the order in which files are looked for and downloaded.
        """
        return (self, *self.alternatives)


@dataclass(frozen=True)
class SplitSpec:
    """One split of a named dataset: its number of examples and its files by role (e.g. images, labels).

    Parameters
    ----------
    size : int
        The number of examples in the split; loading checks that the files hold exactly this many.
    files : Mapping[str, FileSpec], default {}
        The split's files by role (e.g. ``"images"``, ``"labels"``, ``"data"``), the keys under which the loader
        finds their local paths. Empty when the data need no files under the data root (shipped in a package or
        generated here).
    """

    size: int
    files: Mapping[str, FileSpec] = field(default_factory=dict)


Loader = Callable[[Mapping[str, Path], str], Arrays]
"""``loader(paths, split)``: read the split's ``Arrays`` from its files (role -> local path)."""


@dataclass(frozen=True)
class DatasetSpec:
    """A named dataset.

    Parameters
    ----------
    name : str
        The name users type (``aevb train --data NAME``).
    description : str
        One line for ``aevb datasets``.
    subfolder : str
        The folder under the data root that holds the files (``""`` when none are needed).
    splits : Mapping[str, SplitSpec]
        Split name -> ``SplitSpec``.
    loader : Loader
        Builds a split from its files: ``loader(paths, split)`` returns the split's ``Arrays``.
    package : str, default ""
        For data that ships inside a Python package: the package's name (``""`` otherwise).
    package_file : Callable[[], Path] or None, default None
        For such data: returns the file's path, or raises ``DataError`` when the package is missing; these
        datasets need no files under the data root.
    notes : str, default ""
        Extra facts shown to users (how a seeded split was made, where files came from).
    generate : Callable[[Path], Mapping[str, Path]] or None, default None
        For data rendered here: makes (or checks) the cached files in the dataset's folder and returns them by
        role; these datasets download nothing.
    ground_truth : Callable[[Mapping[str, Path]], DSprites] or None, default None
        For data with known generative factors: builds the factor sampler (see ``aevb.data.dsprites.DSprites``)
        from its files by role.
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
        """Every distinct file of every split, in order of first use.

        Returns
        -------
        list of FileSpec
            One ``FileSpec`` per distinct file name (the first spec seen for that name), in the order the splits
            and their roles list them.
        """
        seen: dict[str, FileSpec] = {}
        for split in self.splits.values():
            for spec in split.files.values():
                seen.setdefault(spec.filename, spec)
        return list(seen.values())
