"""Datasets for aevb: named benchmark datasets, the user's own files, and the in-memory :class:`TensorData`.

Typical use::

    from aevb.data import load_dataset, check_data

    train = load_dataset("binarized-mnist", "train")  # files under $AEVB_DATA_DIR or ~/.cache/aevb
    check_data(train.x, support="binary")
"""

from aevb.data.catalog import DATASETS
from aevb.data.download import download
from aevb.data.loading import DatasetInfo, data_root, list_datasets, load_dataset, load_ground_truth
from aevb.data.specs import DatasetSpec, FileSpec, SplitSpec
from aevb.data.tensors import TensorData, check_data
from aevb.data.user import load_array

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
