"""Read a folder of images (PNG, JPEG, ...) into a uint8 ``[N, C, H, W]`` array with Pillow.

Files are found recursively and taken in sorted path order; hidden files and files of other types are
ignored. If any image has colour (or a palette) every image is converted to RGB (``C = 3``, alpha dropped),
otherwise to 8-bit gray (``C = 1``). With ``image_size=(height, width)`` each image is resized (bilinear,
antialiased); without it all images must already share one size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from aevb.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"})


def image_files(folder: Path) -> list[Path]:
    """The image files under ``folder``, in sorted order."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.suffix.lower() in IMAGE_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
        and p.is_file()
    )


def _check_size(image_size: tuple[int, int] | None) -> tuple[int, int] | None:
    if image_size is None:
        return None
    size = tuple(image_size)
    if len(size) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size):
        raise DataError(f"image_size must be (height, width) with two positive integers; got {image_size!r}")
    return size[0], size[1]


def read_image_folder(folder: Path, image_size: tuple[int, int] | None = None) -> np.ndarray:
    """All images under ``folder`` as uint8 ``[N, C, H, W]`` (``C`` is 1 for gray, 3 for colour)."""
    size = _check_size(image_size)
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError as err:
        raise DataError("reading a folder of images needs Pillow; run `pip install pillow`") from err
    files = image_files(folder)
    if not files:
        raise DataError(f"{folder}: no images found (looked for {', '.join(IMAGE_SUFFIXES)} files)")
    modes, sizes = [], []
    for path in files:  # first pass reads headers only
        try:
            with Image.open(path) as img:
                modes.append(img.mode)
                sizes.append(img.size)
        except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as err:
            raise DataError(f"{path}: not a readable image ({err})") from err
    if size is None:
        if len(set(sizes)) > 1:
            other = next(i for i, s in enumerate(sizes) if s != sizes[0])
            raise DataError(
                f"{folder}: images differ in size ({files[0].name} is {sizes[0][1]}x{sizes[0][0]}, "
                f"{files[other].name} is {sizes[other][1]}x{sizes[other][0]}, height x width); pass "
                "image_size=(height, width) to resize them all"
            )
        size = (sizes[0][1], sizes[0][0])
    height, width = size
    mode = "RGB" if any(m not in GRAY_MODES for m in modes) else "L"
    channels = 3 if mode == "RGB" else 1
    out = np.empty((len(files), height, width, channels), dtype=np.uint8)
    for i, path in enumerate(files):
        try:
            with Image.open(path) as img:
                img = img.convert(mode)
                if img.size != (width, height):
                    img = img.resize((width, height), Image.Resampling.BILINEAR)
                out[i] = np.asarray(img, dtype=np.uint8).reshape(height, width, channels)
        except (OSError, ValueError, Image.DecompressionBombError) as err:
            raise DataError(f"{path}: cannot decode the image ({err})") from err
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2))
