"""dSprites (Matthey, Higgins, Hassabis & Lerchner 2017), rendered here exactly, and the published file read safely.

The factor grid is the published one (``dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz``): colour (white: 1 value),
shape (square, ellipse, heart: 3), scale (6 values linearly spaced in [0.5, 1]), orientation (40 values linearly
spaced in [0, 2π], both ends included, as the published ``latents_values``), position x and y (32 values each
linearly spaced in [0, 1]); 737,280 64×64 binary images, one per combination, in the published order (the last
factor, position y, varies fastest).

How we draw a sprite (our choice; the published file's renderer is not public): a pixel is on when its centre lies
inside the shape (no anti-aliasing). At scale 1 the square's half-side is :data:`HALF_SIZE` = 10 px, the ellipse's
semi-axes are 10 and 5 px, and the heart is the curve (x² + y² − 1)³ = x²y³ scaled to the same height; orientation
turns the shape counter-clockwise about its centre. Position index i puts the centre at 16 + i px from the left
(x) or top (y) edge, so one step of position moves the sprite by exactly one pixel and every sprite stays inside
the frame at every orientation. Each (shape, scale, orientation) is rendered once on a 32×32 patch and translated.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aevb.atomic import write_atomic
from aevb.errors import DataError

FACTOR_NAMES = ("shape", "scale", "orientation", "position_x", "position_y")
"""The five factors that vary (colour is constant), in the published order."""
FACTOR_SIZES = (3, 6, 40, 32, 32)
SHAPES = ("square", "ellipse", "heart")
NUM_IMAGES = math.prod(FACTOR_SIZES)  # 737,280
IMAGE_SIZE = 64
HALF_SIZE = 10.0
"""Half the side of the square at scale 1, in pixels."""
PATCH = 32
PUBLISHED_FILE = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
GENERATED_FILE = "dsprites_generated_packed.npy"
GENERATED_SHA256 = "40aa40e3549d1a4abda5a2844e7f6628297dd8b2d0efde7daa854fe086e59467"
"""sha256 of the generated image array (packed bits, :func:`render_all`), so every generation is checked."""


def factor_values() -> tuple[np.ndarray, ...]:
    """The value of every class of every factor (the published ``latents_values`` columns 1..5)."""
    return (
        np.arange(1.0, 4.0),
        np.linspace(0.5, 1.0, 6),
        np.linspace(0.0, 2 * np.pi, 40),
        np.linspace(0.0, 1.0, 32),
        np.linspace(0.0, 1.0, 32),
    )


def factor_classes(indices: np.ndarray) -> np.ndarray:
    """The factor classes ``[N, 5]`` (int64) of images at ``indices`` (the published ``latents_classes[:, 1:]``)."""
    return np.stack(np.unravel_index(np.asarray(indices, dtype=np.int64), FACTOR_SIZES), axis=1).astype(np.int64)


def image_index(classes: np.ndarray) -> np.ndarray:
    """The image index of each row of factor ``classes`` ``[N, 5]``."""
    classes = np.asarray(classes, dtype=np.int64)
    return np.ravel_multi_index(tuple(classes.T), FACTOR_SIZES).astype(np.int64)


def _inside(shape: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Whether the points (u, v) (units of :data:`HALF_SIZE`, y up) lie inside the unit-scale shape."""
    if shape == 0:  # square
        return np.maximum(np.abs(u), np.abs(v)) <= 1.0
    if shape == 1:  # ellipse, twice as wide as tall
        return u**2 + (v / 0.5) ** 2 <= 1.0
    # heart: (x² + y² − 1)³ ≤ x² y³; it spans y ∈ [−1, 1.236], so its height 2.236 is scaled to 2 and centred
    k = 2.236 / 2.0
    x, y = u * k, v * k + 0.118
    return (x**2 + y**2 - 1.0) ** 3 <= x**2 * y**3


def render_patch(shape: int, scale: float, orientation: float) -> np.ndarray:
    """One sprite on a 32×32 boolean patch, centred on the patch's centre (a pixel corner)."""
    c = np.arange(PATCH) + 0.5 - PATCH / 2  # pixel centres relative to the patch centre
    row, col = np.meshgrid(c, c, indexing="ij")
    x, y = col, -row  # y up
    cos, sin = math.cos(orientation), math.sin(orientation)
    # rotate the pixel centres by −orientation: the shape turns by +orientation
    u = (cos * x + sin * y) / (HALF_SIZE * scale)
    v = (-sin * x + cos * y) / (HALF_SIZE * scale)
    return _inside(shape, u, v)


def _translations(patch: np.ndarray) -> np.ndarray:
    """The 32 × 32 placements of a patch: ``[position_x, position_y, 64, 64]`` booleans."""
    big = np.zeros((IMAGE_SIZE + PATCH, IMAGE_SIZE + PATCH), dtype=bool)
    big[PATCH : 2 * PATCH, PATCH : 2 * PATCH] = patch
    windows = np.lib.stride_tricks.sliding_window_view(big, (IMAGE_SIZE, IMAGE_SIZE))  # [33, 33, 64, 64]
    i = np.arange(32)
    # position (ix, iy) puts the patch's top-left corner at (row iy, column ix) of the image
    return windows[PATCH - i[None, :], PATCH - i[:, None]]


def render_all() -> np.ndarray:
    """Every image, in the published order, as packed bits ``[737280, 512]`` uint8 (``np.packbits`` per row)."""
    values = factor_values()
    per_patch = FACTOR_SIZES[3] * FACTOR_SIZES[4]
    out = np.empty((NUM_IMAGES, IMAGE_SIZE * IMAGE_SIZE // 8), dtype=np.uint8)
    n = 0
    for sh in range(3):
        for sc in values[1]:
            for ori in values[2]:
                images = _translations(render_patch(sh, float(sc), float(ori)))
                out[n : n + per_patch] = np.packbits(images.reshape(per_patch, -1), axis=1)
                n += per_patch
    return out


def digest(packed: np.ndarray) -> str:
    """sha256 of a packed image array's bytes."""
    return hashlib.sha256(np.ascontiguousarray(packed).tobytes()).hexdigest()


def generated(folder: Path) -> Path:
    """The cached generated array in ``folder`` (generated and checked against :data:`GENERATED_SHA256` if absent).

    A present cache is checked too: a cache whose digest differs is regenerated, and a generation whose digest
    differs from the recorded one raises (the renderer or numpy changed what it draws).
    """
    path = folder / GENERATED_FILE
    if path.is_file():
        packed = np.load(path, allow_pickle=False)
        if packed.shape == (NUM_IMAGES, IMAGE_SIZE * IMAGE_SIZE // 8) and digest(packed) == GENERATED_SHA256:
            return path
    packed = render_all()
    got = digest(packed)
    if got != GENERATED_SHA256:
        raise DataError(
            f"the generated dSprites array has sha256 {got}, but aevb's renderer recorded {GENERATED_SHA256}; "
            "the rendering changed (numpy version?): nothing was cached"
        )

    def save(tmp: Path) -> None:
        with open(tmp, "wb") as fh:  # a file object: np.save would add ".npy" to the temporary file's name
            np.save(fh, packed, allow_pickle=False)

    write_atomic(path, save)
    return path


def unpack(packed: np.ndarray) -> np.ndarray:
    """Packed rows ``[N, 512]`` → uint8 images ``[N, 64, 64]`` of 0/1."""
    return np.unpackbits(packed, axis=1, count=IMAGE_SIZE * IMAGE_SIZE).reshape(-1, IMAGE_SIZE, IMAGE_SIZE)


def read_published(path: Path) -> np.ndarray:
    """The published ``.npz`` as packed bits ``[737280, 512]``, read with ``allow_pickle=False``.

    Its ``metadata`` entry is a pickled dict and is never read (the factor grid above rebuilds it); ``imgs`` and
    ``latents_classes`` are checked against the grid so a file from another version is named, not used.
    """
    try:
        with np.load(path, allow_pickle=False) as npz:
            imgs, classes = npz["imgs"], npz["latents_classes"]
    except (OSError, ValueError, KeyError) as err:
        raise DataError(f"{path}: not a readable dSprites .npz with 'imgs' and 'latents_classes' ({err})") from None
    if imgs.shape != (NUM_IMAGES, IMAGE_SIZE, IMAGE_SIZE) or classes.shape != (NUM_IMAGES, 6):
        raise DataError(
            f"{path}: expected imgs [{NUM_IMAGES}, 64, 64] and latents_classes [{NUM_IMAGES}, 6]; "
            f"got {list(imgs.shape)} and {list(classes.shape)}"
        )
    if not np.array_equal(classes[:, 1:], factor_classes(np.arange(NUM_IMAGES))):
        raise DataError(f"{path}: latents_classes are not in the published order of the factor grid")
    if imgs.max() > 1:
        raise DataError(f"{path}: imgs must be 0/1; found values up to {int(imgs.max())}")
    return np.packbits(imgs.reshape(NUM_IMAGES, -1).astype(bool), axis=1)


def check_published(path: Path) -> None:
    """Raise :class:`DataError` unless ``path`` is the published dSprites file (see :func:`read_published`)."""
    read_published(path)


@dataclass
class DSprites:
    """dSprites as ground truth: sample factors, draw the images that show them.

    Attributes:
        packed: every image as packed bits ``[737280, 512]`` in the published order.
    """

    packed: np.ndarray

    factor_names: tuple[str, ...] = FACTOR_NAMES
    factor_sizes: tuple[int, ...] = FACTOR_SIZES

    def sample_factors(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` factor-class rows ``[n, 5]``, each factor uniform over its classes."""
        return np.stack([rng.integers(0, size, n) for size in self.factor_sizes], axis=1)

    def observations(self, classes: np.ndarray) -> np.ndarray:
        """The images showing ``classes`` ``[N, 5]``, float32 ``[N, 1, 64, 64]`` of 0/1."""
        return unpack(self.packed[image_index(classes)]).astype(np.float32)[:, None]
