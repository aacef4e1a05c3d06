"""Image grids written as PNG with Pillow (no torchvision)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from aevb.atomic import write_atomic


def to_images(x: torch.Tensor, event_shape: tuple[int, ...]) -> torch.Tensor:
    """View data of ``event_shape`` as images ``[N, C, H, W]``; flat vectors of a square size become squares."""
    if not shows_as_images(event_shape):
        raise ValueError(f"cannot show data of shape {event_shape} as images")
    x = x.detach().float().cpu().reshape(-1, *event_shape)
    if x.dim() == 4:
        return x
    if x.dim() == 3:
        return x.unsqueeze(1)
    side = math.isqrt(x.shape[-1])
    return x.reshape(-1, 1, side, side)


def image_shape(event_shape: tuple[int, ...]) -> tuple[int, int, int] | None:
    """``(C, H, W)`` when rows of ``event_shape`` are taken for images — ``(C, H, W)``, ``(H, W)``, or a flat square
    of 8 × 8 values or more (a 16-feature table is a row, not a 4 × 4 image) — else None. The rule of the image-only
    anomaly score ``relerr``, ``auto``'s choice and the explorer's image view."""
    if len(event_shape) == 3:
        return tuple(event_shape)  # type: ignore[return-value]
    if len(event_shape) == 2:
        return (1, *event_shape)  # type: ignore[return-value]
    side = math.isqrt(event_shape[0]) if len(event_shape) == 1 else 0
    return (1, side, side) if side >= 8 and side * side == event_shape[0] else None


def shows_as_images(event_shape: tuple[int, ...]) -> bool:
    """Whether data of ``event_shape`` can be drawn as images by :func:`to_images`: ``(C, H, W)``, ``(H, W)``, or a
    flat vector of a square size."""
    if len(event_shape) in (2, 3):
        return True
    return len(event_shape) == 1 and math.isqrt(event_shape[0]) ** 2 == event_shape[0]


def make_grid(images: torch.Tensor, nrow: int | None = None, padding: int = 2, pad_value: float = 1.0) -> np.ndarray:
    """Tile ``[N, C, H, W]`` images in [0, 1] into one uint8 array ``[H', W', C]`` (C = 1 or 3)."""
    n, c, h, w = images.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    ncol = math.ceil(n / nrow)
    grid = torch.full((c, ncol * (h + padding) + padding, nrow * (w + padding) + padding), pad_value)
    for i in range(n):
        r, col = divmod(i, nrow)
        top, left = padding + r * (h + padding), padding + col * (w + padding)
        grid[:, top : top + h, left : left + w] = images[i]
    array = (grid.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    return array


def save_grid(
    images: torch.Tensor,
    path: str | Path,
    nrow: int | None = None,
    scale: int = 2,
    row_labels: list[str] | None = None,
) -> Path:
    """Write a PNG grid of ``[N, C, H, W]`` images with values in [0, 1], upscaled ``scale``× for viewing;
    ``row_labels`` are written in a margin left of the rows (cycled when there are more rows than labels)."""
    padding = 2
    array = make_grid(images, nrow, padding=padding)
    mode = "L" if array.shape[2] == 1 else "RGB"
    img = Image.fromarray(array[:, :, 0] if mode == "L" else array, mode=mode)
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    if row_labels:
        img = _label_rows(img, row_labels, row_height=(images.shape[2] + padding) * scale, top=padding * scale)
    path = Path(path)
    write_atomic(path, lambda tmp: img.save(tmp, format="PNG"))
    return path


def _label_rows(img: Image.Image, labels: list[str], row_height: int, top: int) -> Image.Image:
    """``img`` with a white margin on the left holding one label per row of the grid."""
    font = ImageFont.load_default()
    draw = ImageDraw.Draw(img)
    width = max(int(draw.textlength(label, font=font)) for label in labels) + 8
    out = Image.new(img.mode, (img.width + width, img.height), 255 if img.mode == "L" else (255, 255, 255))
    out.paste(img, (width, 0))
    draw = ImageDraw.Draw(out)
    rows = (img.height - top) // row_height
    for r in range(rows):
        y = top + r * row_height + row_height // 2 - 6
        draw.text((4, y), labels[r % len(labels)], fill=0 if img.mode == "L" else (0, 0, 0), font=font)
    return out
