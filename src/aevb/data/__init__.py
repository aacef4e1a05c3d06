"""Datasets for aevb: named benchmark datasets, the user's own files, and the in-memory ``TensorData``.

The catalog and ``list_datasets`` import no torch; the names that need it load on first use (PEP 562), so that
``aevb datasets`` answers at once.

Examples
--------
>>> from aevb.data import load_dataset, check_data
>>> train = load_dataset("binarized-mnist", "train")  # files under $AEVB_DATA_DIR or ~/.cache/aevb
>>> check_data(train.x, support="binary")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aevb.data.catalog import DATASETS
from aevb.data.download import download
from aevb.data.listing import DatasetInfo, data_root, list_datasets
from aevb.data.specs import DatasetSpec, FileSpec, SplitSpec
from aevb.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "TensorData": "aevb.data.tensors",
    "check_data": "aevb.data.tensors",
    "load_array": "aevb.data.user",
    "load_dataset": "aevb.data.loading",
    "load_ground_truth": "aevb.data.loading",
}

if TYPE_CHECKING:  # for type checkers and IDEs: the same names, imported eagerly
    from aevb.data.loading import load_dataset, load_ground_truth
    from aevb.data.tensors import TensorData, check_data
    from aevb.data.user import load_array

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

__all__ = [
    "DATASETS",
    "DatasetInfo",
    "DatasetSpec",
    "FileSpec",
    "SplitSpec",
    "TensorData",
    "check_data",
    "data_root",
    "download",
    "list_datasets",
    "load_array",
    "load_dataset",
    "load_ground_truth",
]
