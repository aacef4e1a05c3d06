"""Find, fetch, verify and load datasets by name (or by path, for the user's own files).

Where files live: the ``data_dir`` argument, else ``$AEVB_DATA_DIR``, else ``~/.cache/aevb``. A named
dataset's files sit in ``<root>/<subfolder>/<file>`` (e.g. ``<root>/mnist/train-images-idx3-ubyte.gz``).
When a file is present nothing touches the network. Setting ``$AEVB_DATA_MIRROR`` to a base URL makes
downloads try ``<mirror>/<subfolder>/<file>`` before the canonical URLs.
"""

from __future__ import annotations

import difflib
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aevb.data.catalog import DATASETS
from aevb.data.download import download as download_file
from aevb.data.download import sha256_file
from aevb.data.dsprites import DSprites
from aevb.data.listing import ENV_DATA_DIR, data_root
from aevb.data.specs import Arrays, DatasetSpec, FileSpec
from aevb.data.splits import split_indices
from aevb.data.tensors import TensorData
from aevb.data.user import USER_SUFFIXES, load_array
from aevb.errors import DataError

ENV_MIRROR = "AEVB_DATA_MIRROR"
"""The environment variable of a mirror's base URL: downloads try ``<mirror>/<subfolder>/<file>`` first."""
SPLIT_ALIASES = {"val": "valid", "validation": "valid", "training": "train", "eval": "test"}
"""Other names of splits (matched ignoring case): ``val`` and ``validation`` mean ``valid``, ``training`` means
``train``, ``eval`` means ``test``."""
USER_TEST_FRACTION = 0.1
"""User data: split ``test`` is the last ⌊N · 0.1⌋ examples of a seeded permutation, ``train`` the rest (the
default; ``test_fraction`` of ``load_dataset`` and ``aevb train --test-fraction`` change it)."""

_verified: set[tuple[str, int, int]] = set()


def get_spec(name: str) -> DatasetSpec:
    """The ``DatasetSpec`` called ``name`` (case and ``_``/``-`` are ignored).

    Parameters
    ----------
    name : str
        A dataset name of ``DATASETS``; surrounding spaces are ignored.

    Returns
    -------
    DatasetSpec
        The catalog's entry for the name.

    Raises
    ------
    DataError
        If no dataset has that name; the message suggests the closest name and lists the known ones.
    """
    key = name.strip().lower().replace("_", "-")
    if key in DATASETS:
        return DATASETS[key]
    close = difflib.get_close_matches(key, list(DATASETS), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise DataError(
        f"unknown dataset {name!r}{hint}; known datasets: {', '.join(DATASETS)}; or give a path to a "
        f"{'/'.join(USER_SUFFIXES)} file or a folder of images"
    )


def is_user_data(name: str | os.PathLike[str]) -> bool:
    """Whether ``name`` names the user's own data (a path) rather than a dataset of the catalog.

    A path object, or a string with a path separator or a leading ``~``, is a path; else a registered dataset name
    (case and ``_``/``-`` ignored) is not; else a string with a suffix of ``USER_SUFFIXES`` or naming an existing
    file or folder is.

    Parameters
    ----------
    name : str or os.PathLike
        A dataset name or a path, as ``load_dataset`` takes it.

    Returns
    -------
    bool
        True when ``load_dataset(name)`` would read it as the user's own data.
    """
    return _is_path_like(name)


def user_test_size(n: int, test_fraction: float = USER_TEST_FRACTION) -> int:
    """How many of a user file's ``n`` rows the seeded test split holds: ⌊n · test_fraction⌋.

    Parameters
    ----------
    n : int
        The number of rows (examples) of the file.
    test_fraction : float, default USER_TEST_FRACTION
        The fraction of rows in the test split, in [0, 1) (default 0.1).

    Returns
    -------
    int
        ⌊n · test_fraction⌋ (with a tolerance of 1e-9 for floating-point rounding, so that 0.1 · 70 gives 7).

    Raises
    ------
    DataError
        If ``test_fraction`` does not lie in [0, 1).
    """
    if not 0 <= test_fraction < 1:
        raise DataError(f"test_fraction must lie in [0, 1), got {test_fraction}")
    return math.floor(n * test_fraction + 1e-9)  # 1e-9: 0.1 · 70 is 7.000000000000001, and 0.3 · 10 is 2.9999999


def user_split_rows(n: int, split: str, test_fraction: float = USER_TEST_FRACTION) -> np.ndarray:
    """The rows of a user file of ``n`` rows that split ``split`` (train, test, all) holds, in file order.

    ``test`` is the last ⌊n · test_fraction⌋ rows of the seeded permutation (seed
    ``aevb.data.splits.SPLIT_SEED``), ``train`` the rest, ``all`` every row. An unknown split or a
    ``test_fraction`` outside [0, 1) raises ``DataError``.

    Parameters
    ----------
    n : int
        The number of rows (examples) of the file.
    split : str
        ``"train"``, ``"test"`` or ``"all"`` (no aliases).
    test_fraction : float, default USER_TEST_FRACTION
        The fraction of rows in the test split, in [0, 1) (default 0.1).

    Returns
    -------
    numpy.ndarray
        The split's row indices, int64, in increasing order.
    """
    return split_indices(n, split, user_test_size(n, test_fraction))


def user_split(
    everything: TensorData, split: str, test_fraction: float = USER_TEST_FRACTION
) -> tuple[TensorData, np.ndarray]:
    """Split ``split`` of a user file's rows (all of them in ``everything``) and the file rows it holds.

    Parameters
    ----------
    everything : TensorData
        Every row of the user's file, in file order.
    split : str
        ``"train"``, ``"test"`` or ``"all"`` (see ``user_split_rows``).
    test_fraction : float, default USER_TEST_FRACTION
        The fraction of rows in the test split, in [0, 1) (default 0.1).

    Returns
    -------
    tuple of (TensorData, numpy.ndarray)
        The split's examples (``everything`` itself for ``"all"``) and their row indices in the file (int64,
        increasing).
    """
    rows = user_split_rows(len(everything), split, test_fraction)
    return (everything if split == "all" else everything.take(torch.from_numpy(rows))), rows


def _is_path_like(name: str | os.PathLike[str]) -> bool:
    if not isinstance(name, str):
        return True
    seps = {os.sep, "/"} | ({os.altsep} if os.altsep else set())
    if any(sep in name for sep in seps) or name.startswith("~"):
        return True
    if name.strip().lower().replace("_", "-") in DATASETS:
        return False
    return Path(name).suffix.lower() in USER_SUFFIXES or Path(name).exists()


def _file_urls(spec: DatasetSpec, file: FileSpec) -> tuple[str, ...]:
    mirror = os.environ.get(ENV_MIRROR, "").strip()
    if not mirror:
        return file.urls
    parts = [mirror.rstrip("/"), *([spec.subfolder] if spec.subfolder else []), file.filename]
    return ("/".join(parts), *file.urls)


def verify_file(path: Path, file: FileSpec) -> None:
    """Check a present file against its known digests, else its content check (results cached per process).

    A file with neither known digests nor a content check passes unchecked. A file that passed is not checked
    again in this process while its resolved path, size and modification time stay the same.

    Parameters
    ----------
    path : pathlib.Path
        The local file.
    file : FileSpec
        What the file should be: its accepted ``sha256`` digests and its ``validate`` content check.

    Raises
    ------
    DataError
        If the file's sha256 is not a known digest and there is no content check, or the content check fails;
        the message says to delete the file to download it again, or to pass ``verify=False`` to use it anyway.
    """
    if not file.sha256 and file.validate is None:
        return
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key in _verified:
        return
    digest = sha256_file(path)
    if digest not in file.sha256:
        known = " or ".join(sorted(file.sha256)) or "none published"
        if file.validate is None:
            raise DataError(
                f"{path}: sha256 is {digest}, expected {known}; the file is corrupted or another version. "
                "Delete it to download it again, or pass verify=False to use it anyway"
            )
        try:
            file.validate(path)
        except DataError as err:
            raise DataError(
                f"{path}: sha256 {digest} is not a known digest ({known}) and the content check failed: "
                f"{err}. "
                "Delete it to download it again, or pass verify=False to use it anyway"
            ) from err
    _verified.add(key)


def locate_file(
    spec: DatasetSpec,
    file: FileSpec,
    root: Path,
    *,
    split: str,
    download: bool = True,
    verify: bool = True,
    timeout: float = 30.0,
) -> Path:
    """The local path of ``file`` (or of one of its alternatives), downloading it when allowed and missing.

    The file and then its alternatives are looked for in ``root/<spec.subfolder>``; the first one present is
    used. When none is, each is downloaded in turn (from the ``$AEVB_DATA_MIRROR`` mirror first, when set, then
    from its URLs) until one download succeeds.

    Parameters
    ----------
    spec : DatasetSpec
        The dataset the file belongs to (its subfolder and name).
    file : FileSpec
        The file to find.
    root : pathlib.Path
        The data root.
    split : str
        The split being loaded, named in error messages.
    download : bool, default True
        Whether to download the file when it is missing.
    verify : bool, default True
        Whether to check a present file with ``verify_file`` (downloads are always verified).
    timeout : float, default 30.0
        Seconds each network connect or read may block.

    Returns
    -------
    pathlib.Path
        The local path of the file or of the alternative that was found or downloaded.

    Raises
    ------
    DataError
        If the file is missing and downloads are off (the message lists the URLs to fetch it from), if every
        download failed, or if a present file fails verification.
    """
    folder = root / spec.subfolder if spec.subfolder else root
    for candidate in file.candidates():
        path = folder / candidate.filename
        if path.is_file():
            if verify:
                verify_file(path, candidate)
            return path
    names = " or ".join(c.filename for c in file.candidates())
    what = f"dataset {spec.name!r} (split {split!r}) needs {names}, which is not in {folder}"
    fix = (
        f"To fix: set {ENV_DATA_DIR} (or pass data_dir) to a folder holding "
        f"{spec.subfolder + '/' if spec.subfolder else ''}{file.filename}, or "
        + ("check the network connection" if download else "allow downloads")
    )
    urls = [url for candidate in file.candidates() for url in _file_urls(spec, candidate)]
    if not download:
        raise DataError(f"{what}, and downloads are off. It can be fetched from: {', '.join(urls)}. {fix}.")
    failures = []
    for candidate in file.candidates():
        try:
            return download_file(
                _file_urls(spec, candidate),
                folder / candidate.filename,
                candidate.sha256,
                validate=candidate.validate,
                timeout=timeout,
                progress=True,
            )
        except DataError as err:
            failures.append(str(err))
    raise DataError(f"{what}, and downloading it failed:\n" + "\n".join(failures) + f"\n{fix}.")


def _canonical_split(spec_name: str, split: str, available: list[str]) -> str:
    key = SPLIT_ALIASES.get(split.strip().lower(), split.strip().lower())
    if key in available:
        return key
    hint = " (it has no validation split; hold out part of 'train' instead)" if key == "valid" else ""
    raise DataError(f"dataset {spec_name!r} has no split {split!r}{hint}; available splits: {', '.join(available)}")


def _load_user(path: Path, split: str, image_size: tuple[int, int] | None, test_fraction: float) -> TensorData:
    data = load_array(path, image_size=image_size)
    key = _canonical_split(str(path), split, ["train", "test", "all"])
    if key == "all":
        return data
    if key == "test" and user_test_size(len(data), test_fraction) == 0:
        raise DataError(
            f"{path} holds {len(data)} examples and test_fraction is {test_fraction}: its test split is empty; use "
            "split 'all' or 'train', or a larger --test-fraction"
        )
    return user_split(data, key, test_fraction)[0]


def load_dataset(
    name: str | os.PathLike[str],
    split: str = "train",
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    *,
    image_size: tuple[int, int] | None = None,
    verify: bool = True,
    timeout: float = 30.0,
    test_fraction: float = USER_TEST_FRACTION,
) -> TensorData:
    """Load one split of a named dataset, or of the user's own data when ``name`` is a path.

    Parameters
    ----------
    name : str or os.PathLike
        A name from ``DATASETS`` (see ``list_datasets``), or a path to a ``.npy``, ``.npz`` or ``.csv`` file or
        to a folder of images (anything with a path separator, a known suffix, or that exists; a registered name
        wins, so write ``./mnist`` for a folder called ``mnist``).
    split : str, default "train"
        ``train``, ``test``, ``valid`` (binarized-mnist only) or ``all`` (seeded-split datasets); case is
        ignored, and the aliases of ``SPLIT_ALIASES`` (``val``, ``validation``, ``training``, ``eval``) are
        accepted. User data: ``test`` is the last ``⌊N · test_fraction⌋`` examples of a seeded permutation,
        ``train`` the rest, ``all`` everything; each in file order.
    data_dir : str or os.PathLike or None, default None
        The data root; default ``$AEVB_DATA_DIR``, else ``~/.cache/aevb``.
    download : bool, default True
        Fetch missing files (verified by sha256 or a content check); when false, a missing file raises
        ``DataError``.
    image_size : tuple of (int, int) or None, default None
        ``(height, width)`` to resize a folder of images to (user data only).
    verify : bool, default True
        Check present files' digests (cached per process); false skips the check.
    timeout : float, default 30.0
        Seconds each network connect or read may block.
    test_fraction : float, default USER_TEST_FRACTION
        User data: the fraction of rows in the seeded test split, in [0, 1) (default 0.1; 0: none, train is every
        row).

    Returns
    -------
    TensorData
        The split's examples, float32 ``[N, *event_shape]``, with labels when the dataset has them. A named
        dataset's tensors share memory with the arrays its loader read, and its ``dynamic_binarize`` is set for
        ``dynamic-mnist``.

    Raises
    ------
    DataError
        If the name is neither a known dataset nor an existing path; if the dataset has no such split (or a user
        file's test split is empty); if a file is missing and downloads are off, cannot be downloaded or fails
        verification; if the package that ships the data is not installed; if the files cannot be read or hold
        a number of examples other than the split's size.
    """
    if _is_path_like(name):
        path = Path(name).expanduser()
        if not path.exists():
            raise DataError(
                f"no such file or folder: {path}; give a {'/'.join(USER_SUFFIXES)} file, a folder of images, "
                f"or a dataset name ({', '.join(DATASETS)})"
            )
        return _load_user(path, split, image_size, test_fraction)
    spec = get_spec(str(name))
    key = _canonical_split(spec.name, split, list(spec.splits))
    split_spec = spec.splits[key]
    if spec.package_file is not None:
        spec.package_file()  # raises a DataError telling how to install the package
    paths = _paths(spec, key, data_root(data_dir), download=download, verify=verify, timeout=timeout)
    data = _tensor_data(spec.loader(paths, key))
    if len(data) != split_spec.size:
        raise DataError(
            f"dataset {spec.name!r} split {key!r} should have {split_spec.size} examples but its files hold "
            f"{len(data)}; a file is from another version or corrupted: {', '.join(map(str, paths.values()))}"
        )
    return data


def _tensor_data(arrays: Arrays) -> TensorData:
    """A loader's NumPy arrays as tensors sharing their memory.

    Returns
    -------
    TensorData
        The arrays' data, labels, name and ``dynamic_binarize`` flag.
    """
    y = None if arrays.y is None else torch.from_numpy(arrays.y)
    return TensorData(torch.from_numpy(arrays.x), y, arrays.name, arrays.dynamic_binarize)


def _paths(spec: DatasetSpec, split: str, root: Path, **how: Any) -> dict[str, Path]:
    """The local files of one split by role: generated (and cached) here, or located / downloaded.

    Returns
    -------
    dict of str to pathlib.Path
        The split's local files by role.
    """
    if spec.generate is not None:
        return dict(spec.generate(root / spec.subfolder))
    return {role: locate_file(spec, file, root, split=split, **how) for role, file in spec.splits[split].files.items()}


def load_ground_truth(name: str, data_dir: str | os.PathLike[str] | None = None, download: bool = True) -> DSprites:
    """The factor sampler of a dataset with known generative factors (``dsprites``, ``dsprites-published``).

    It is built from the files of split ``all``; present files are always verified.

    Parameters
    ----------
    name : str
        The dataset's name (case and ``_``/``-`` are ignored).
    data_dir : str or os.PathLike or None, default None
        The data root; default ``$AEVB_DATA_DIR``, else ``~/.cache/aevb``.
    download : bool, default True
        Fetch missing files; when false, a missing file raises ``DataError``.

    Returns
    -------
    DSprites
        The factor sampler over every image: ``sample_factors`` draws factor classes, ``observations`` the
        images that show them.

    Raises
    ------
    DataError
        If ``name`` is a path or names a dataset without known generative factors (the message lists those
        that have them), or is not a known dataset; if a file is missing and cannot be downloaded, or fails
        verification.
    """
    spec = get_spec(name) if not _is_path_like(name) else None
    if spec is None or spec.ground_truth is None:
        known = ", ".join(n for n, s in DATASETS.items() if s.ground_truth is not None)
        raise DataError(f"dataset {str(name)!r} has no known generative factors; datasets with factors: {known}")
    return spec.ground_truth(_paths(spec, "all", data_root(data_dir), download=download, verify=True, timeout=30.0))
