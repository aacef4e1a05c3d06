"""Load the user's own data: ``.npy``, ``.npz``, ``.csv`` files or a folder of images.

Values: ``uint8`` arrays and images are divided by 255; ``bool`` becomes 0/1; other integers and floats are
kept as they are (as float32). CSV numbers are kept as they are. Shapes: ``[N]`` becomes ``[N, 1]``;
``[N, H, W]`` is taken as gray images ``[N, 1, H, W]``; ``[N, H, W, C]`` with ``C`` in 1, 3, 4 (and ``H``
not) is taken as channels-last images and moved to ``[N, C, H, W]``; other shapes are kept. Arrays are
always loaded with ``allow_pickle=False``: files holding Python objects are refused, never unpickled.
"""

from __future__ import annotations

import os
import struct
import tokenize
import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch

from aevb.data.csvtext import read_csv
from aevb.data.images import read_image_folder
from aevb.data.tensors import TensorData, check_data
from aevb.errors import DataError

USER_SUFFIXES = (".npy", ".npz", ".csv")
"""The file suffixes ``load_array`` reads (a ``.csv.gz`` file is read too, and a folder of images)."""
_CHANNELS = (1, 3, 4)
NPY_MAGIC = b"\x93NUMPY"
"""The first bytes of a ``.npy`` file (a ``.npz`` file starts with the zip magic ``PK``)."""
# What numpy raises on a damaged file: a corrupted .npy header is parsed as a Python literal (SyntaxError,
# tokenize.TokenError), a header declaring an absurd shape fails to allocate (MemoryError, OverflowError), a damaged
# zip member fails to inflate (zlib.error, BadZipFile) or claims a method zipfile lacks. Found by tests/test_fuzz.py.
_DAMAGED = (
    OSError,
    EOFError,
    zipfile.BadZipFile,
    zlib.error,
    SyntaxError,
    tokenize.TokenError,
    MemoryError,
    OverflowError,
    TypeError,
    KeyError,
    NotImplementedError,  # zip: unknown compression method or format version
    RuntimeError,  # zip: "encrypted, password required"
    struct.error,  # zip: damaged headers
)


def _refuse_pickle(path: Path) -> DataError:
    return DataError(
        f"{path} holds Python objects (an object or pickled array); aevb never unpickles data files because "
        "that can run arbitrary code. Save a plain numeric array instead "
        "(e.g. np.save(path, x.astype(np.float32)))"
    )


def _np_load(path: Path) -> np.ndarray | np.lib.npyio.NpzFile:
    with open(path, "rb") as handle:
        head = handle.read(len(NPY_MAGIC))
    if not head.startswith((NPY_MAGIC, b"PK\x03\x04", b"PK\x05\x06")):
        if head.startswith(b"\x80"):  # a pickle stream (protocol 2+), which np.load would try to unpickle
            raise _refuse_pickle(path)
        raise DataError(f"{path}: not a readable .npy/.npz file (it does not start with the numpy or zip magic)")
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as err:
        if "pickle" in str(err).lower():
            raise _refuse_pickle(path) from err
        raise DataError(f"{path}: not a readable .npy/.npz file ({err})") from err
    except _DAMAGED as err:
        raise DataError(f"{path}: not a readable .npy/.npz file ({type(err).__name__}: {err})") from err


def _array(archive: np.lib.npyio.NpzFile, key: str, path: Path) -> np.ndarray:
    try:
        return archive[key]
    except ValueError as err:
        if "pickle" in str(err).lower():
            raise _refuse_pickle(path) from err
        raise DataError(f"{path}: cannot read array {key!r} ({err})") from err
    except _DAMAGED as err:
        raise DataError(f"{path}: cannot read array {key!r} ({type(err).__name__}: {err})") from err


def _from_npz(archive: np.lib.npyio.NpzFile, path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    keys = list(archive.files)
    if not keys:
        raise DataError(f"{path}: the .npz archive holds no arrays")
    if "x" in keys:
        x_key = "x"
    elif len(keys) == 1:
        x_key = keys[0]
    else:
        others = [k for k in keys if k != "y"]
        if len(others) != 1:
            raise DataError(
                f"{path} holds arrays {', '.join(keys)}; name the data array 'x' (and labels 'y') "
                "or store a single array"
            )
        x_key = others[0]
    x = _array(archive, x_key, path)
    y = _array(archive, "y", path) if "y" in keys and x_key != "y" else None
    return x, y


def _labels(y: np.ndarray | None, n: int, path: Path) -> torch.Tensor | None:
    if y is None:
        return None
    if y.ndim != 1 or len(y) != n:
        raise DataError(f"{path}: labels 'y' must have shape ({n},), one per example; got {y.shape}")
    if y.dtype.kind == "f" and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
        y = y.astype(np.int64)
    if y.dtype.kind not in "biu":
        raise DataError(f"{path}: labels 'y' must be integers; got dtype {y.dtype}")
    return torch.from_numpy(y.astype(np.int64))


def _to_tensor(arr: np.ndarray, path: Path) -> torch.Tensor:
    """Scale and reshape a numeric array to float32 ``[N, *event_shape]`` (see the module docstring).

    Returns
    -------
    torch.Tensor
        The array as float32 ``[N, *event_shape]``.

    Raises
    ------
    DataError
        If the array is not of bool, integer or floating-point dtype, or is a single number.
    """
    kind = arr.dtype.kind
    if kind not in "biuf":
        raise DataError(
            f"{path}: arrays of dtype {arr.dtype} are not supported; use bool, integer or floating-point numbers"
        )
    if arr.ndim == 0:
        raise DataError(f"{path}: holds a single number; expected an array of shape [N, ...] (one row per example)")
    x = torch.from_numpy(np.ascontiguousarray(arr).astype(np.float32, copy=False))
    if arr.dtype == np.uint8:
        x = x / 255.0
    if x.dim() == 1 or x.dim() == 3:
        x = x.unsqueeze(1)
    elif x.dim() == 4 and x.shape[-1] in _CHANNELS and x.shape[1] not in _CHANNELS:
        x = x.permute(0, 3, 1, 2).contiguous()
    return x


def load_array(
    path: str | os.PathLike[str],
    *,
    image_size: tuple[int, int] | None = None,
    name: str | None = None,
) -> TensorData:
    """Load all of a user's data file (or image folder) as ``TensorData`` named after the path.

    Values and shapes are converted as the module docstring says (``uint8`` divided by 255, ``[N, H, W]`` taken
    as gray images, channels-last images moved to ``[N, C, H, W]``); files are never unpickled.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.npy`` file, a ``.npz`` file (array ``x``, or its only array, or its only array besides ``y``, and
        optional integer labels ``y``), a ``.csv`` (or ``.csv.gz``) file of numbers (header row detected), or a
        folder of images; ``~`` is expanded.
    image_size : tuple of (int, int) or None, default None
        ``(height, width)`` to resize images to (image folders only).
    name : str or None, default None
        The name used in messages; default the path.

    Returns
    -------
    TensorData
        Every example of the file, float32 ``[N, *event_shape]``, with the ``.npz`` file's labels ``y`` (int64)
        when it has them, checked to be finite (``check_data`` with ``support="real"``).

    Raises
    ------
    DataError
        If the file is missing, empty, of an unsupported type, unreadable, not numeric, holds objects, has ragged
        or non-numeric CSV rows, has labels that are not integers of shape ``[N]``, or holds NaN/inf.
    """
    path = Path(path).expanduser()
    y: np.ndarray | None = None
    if path.is_dir():
        arr = read_image_folder(path, image_size)
    elif not path.is_file():
        raise DataError(f"no such file or folder: {path}")
    elif path.stat().st_size == 0:
        raise DataError(f"{path} is empty (0 bytes)")
    else:
        suffix = path.suffix.lower()
        if suffix == ".csv" or [s.lower() for s in path.suffixes[-2:]] == [".csv", ".gz"]:
            arr = read_csv(path)
        elif suffix in (".npy", ".npz"):
            loaded = _np_load(path)
            if isinstance(loaded, np.lib.npyio.NpzFile):
                with loaded:
                    arr, y = _from_npz(loaded, path)
            else:
                arr = loaded
        else:
            raise DataError(
                f"unsupported file type {path.suffix!r} for {path}; supported: .npy, .npz, .csv files or a "
                "folder of images"
            )
    x = _to_tensor(arr, path)
    data = TensorData(x, _labels(y, x.shape[0], path), name or str(path))
    check_data(data, support="real")
    return data
