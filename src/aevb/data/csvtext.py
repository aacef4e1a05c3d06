"""Read a user's CSV file of numbers into a float32 ``[N, D]`` array.

The delimiter is a comma, else a semicolon or a tab when the first line has one, else whitespace. The first
line is a header when any of its cells is not a number. A first column without a name in the header that counts
the rows (0, 1, …, or 1, 2, …) is a row index, as pandas' ``to_csv`` writes by default: it is left out, with a
warning. Blank lines and ``#`` comments are skipped. A fast C parser reads well-formed files; on failure a
line-by-line pass names the line (and column) at fault.
"""

from __future__ import annotations

import gzip
import warnings
from pathlib import Path

import numpy as np

from aevb.errors import DataError


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _content(line: str) -> str:
    return line.split("#", 1)[0].strip()


def _cells(line: str, delimiter: str | None) -> list[str]:
    return [c.strip() for c in line.split(delimiter)] if delimiter else line.split()


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
        if raw.startswith(b"\x1f\x8b"):
            raw = gzip.decompress(raw)
        return raw.decode("utf-8-sig")
    except OSError as err:
        raise DataError(f"cannot read {path}: {err.strerror or err}") from err
    except (EOFError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: not a UTF-8 text CSV file ({err})") from err


def _diagnose(path: Path, lines: list[str], start: int, delimiter: str | None) -> None:
    """Raise a DataError naming the first ragged row or non-numeric cell from line ``start`` on (0-based)."""
    expected: tuple[int, int] | None = None
    for lineno, line in enumerate(lines[start:], start=start + 1):
        content = _content(line)
        if not content:
            continue
        cells = _cells(content, delimiter)
        if expected is None:
            expected = (len(cells), lineno)
        elif len(cells) != expected[0]:
            raise DataError(
                f"{path}: line {lineno} has {len(cells)} columns, but line {expected[1]} has {expected[0]}; "
                "every row must have the same number of columns"
            )
        for column, cell in enumerate(cells, start=1):
            if not _is_number(cell):
                shown = repr(cell) if cell else "an empty cell"
                raise DataError(f"{path}: line {lineno}, column {column}: {shown} is not a number")


def read_csv(path: Path) -> np.ndarray:
    """The numbers of a CSV file as float32 ``[rows, columns]`` (header row detected and skipped)."""
    lines = _read_text(path).splitlines()
    first = next((i for i, line in enumerate(lines) if _content(line)), None)
    if first is None:
        raise DataError(f"{path}: the CSV file is empty (no rows of numbers)")
    head = _content(lines[first])
    delimiter = next((d for d in (",", ";", "\t") if d in head), None)
    start = first + 1 if not all(_is_number(c) for c in _cells(head, delimiter)) else first
    if not any(_content(line) for line in lines[start:]):
        raise DataError(f"{path}: the CSV file has a header but no rows of numbers")
    try:
        values = np.loadtxt(lines[start:], delimiter=delimiter, dtype=np.float64, ndmin=2, comments="#")
    except ValueError as err:
        _diagnose(path, lines, start, delimiter)
        raise DataError(f"{path}: cannot read the CSV numbers ({err})") from err
    if start > first and _cells(head, delimiter)[0] == "" and values.shape[1] > 1 and _counts_rows(values[:, 0]):
        # pandas' DataFrame.to_csv writes its index as a first column with an empty header cell: row numbers, not a
        # feature (pandas reads it back with index_col=0, R takes such a column for row names)
        warnings.warn(
            f"{path}: the first column has no name and counts 0, 1, …, {len(values) - 1}: the row index that pandas' "
            "to_csv writes (without index=False); it is left out, not read as a feature",
            stacklevel=2,
        )
        values = values[:, 1:]
    return values.astype(np.float32)


def _counts_rows(column: np.ndarray) -> bool:
    """Whether ``column`` is 0, 1, …, N − 1 (a RangeIndex) or 1, …, N."""
    steps = np.arange(len(column), dtype=np.float64)
    return bool(np.array_equal(column, steps) or np.array_equal(column, steps + 1))
