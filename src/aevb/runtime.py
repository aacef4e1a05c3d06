"""Where and how tensors are computed: the device, the precision, forked random streams, and the CPU allocator.

**Where tensors live (one rule).** A model's parameters decide: every public method of a model and every library
function that takes a model moves its tensor inputs to the model's device (:func:`module_device`, :func:`to_device`;
a no-op when they are there already), so users may pass CPU data to a model on a GPU. What leaves the library for
files, NumPy or Python numbers is moved to the CPU first. Inside a training step the trainer hands the method
minibatches already on the device, so a compiled step never meets a tensor of another device.

glibc's malloc serves large blocks (above a threshold that starts at 128 KiB) with fresh ``mmap`` calls and returns
them with ``munmap`` when freed, so a training step can page-fault in new activation and gradient buffers that the
kernel zeroes. glibc raises its threshold by itself after such frees, but how soon depends on the process's history
(``benchmarks/README.md`` has the measured cost). Raising the mmap threshold to its maximum and the trim threshold
keeps freed blocks in the heap for the next step to reuse. This is what ``MALLOC_MMAP_THRESHOLD_`` does when set
before start-up; doing it from Python lets the library apply it to its own training and evaluation loops.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import sys
import warnings
from collections.abc import Iterator

import torch

from aevb.config import PRECISIONS
from aevb.errors import ConfigError


def resolve_device(name: str) -> torch.device:
    """``"auto"``: CUDA when present, else the CPU; otherwise the named device (``cpu``, ``cuda``, ``cuda:1``).

    A GPU this process cannot use is refused here, by name, rather than by torch's assertion at the first tensor.

    Raises
    ------
    ConfigError
        If ``name`` is not a device name, or names CUDA where torch has none (a CPU build, no GPU visible) or a GPU
        index this machine does not have.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(f"device {name!r} is not a device name; choose auto, cpu, cuda or cuda:N") from exc
    if device.type == "cuda":
        if not torch.cuda.is_available():
            build = "a CPU build of torch" if torch.version.cuda is None else "no GPU is visible"
            raise ConfigError(
                f"device {name!r} asks for a GPU, but this process has none ({build}, torch {torch.__version__}); "
                "use device auto (CUDA when present, else the CPU) or cpu"
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(
                f"device {name!r}: this machine has {torch.cuda.device_count()} GPU(s), cuda:0 to "
                f"cuda:{torch.cuda.device_count() - 1}"
            )
    return device


def available_device(name: str, what: str = "this run") -> torch.device:
    """``name`` resolved, or the nearest device this machine has, with a warning: for reading what was made elsewhere.

    The CPU when ``name`` names CUDA on a machine without it; the current GPU when it names a GPU this machine does
    not have (``cuda:3`` where there are two). So a run or an estimator made on a GPU can be evaluated, plotted and
    scored anywhere; training asks for its device with :func:`resolve_device`, which refuses instead.

    Parameters
    ----------
    name : str
        A device name: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
    what : str, default "this run"
        What was set to that device, for the warning.

    Returns
    -------
    torch.device
        The device to load onto.
    """
    try:
        return resolve_device(name)
    except ConfigError:
        if not name.startswith("cuda"):  # not a device name at all: nothing to fall back from
            raise
    if torch.cuda.is_available():  # a GPU index this machine lacks
        why, fallback = f"this machine has {torch.cuda.device_count()} GPU(s)", "the current one"
    else:
        why, fallback = "CUDA is not available", "the CPU"
    warnings.warn(f"{what} was set to device {name!r}, but {why}: loading on {fallback}", stacklevel=3)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def module_device(module: torch.nn.Module) -> torch.device:
    """The device of the first parameter or buffer found in ``module`` (depth first); the CPU for a module with none.

    Called by every public model method, so it walks the module dicts itself: ``next(module.parameters())`` builds
    recursive generators and cost ~9 µs per call on the 784-400-20 VAE (~4 calls per training step), this ~2 µs.
    """
    stack = [module]
    while stack:
        current = stack.pop()
        for tensors in (current._parameters, current._buffers):
            for tensor in tensors.values():
                if tensor is not None:
                    return tensor.device
        stack.extend(child for child in reversed(current._modules.values()) if child is not None)
    return torch.device("cpu")


def to_device(tensor: torch.Tensor | None, device: torch.device) -> torch.Tensor | None:
    """``tensor`` on ``device`` (itself when it is there already; None stays None)."""
    if tensor is None or tensor.device == device:
        return tensor
    return tensor.to(device)


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """The autocast of the networks for ``precision``: bf16 for ``"bf16"`` (log-densities and logsumexp stay fp32 in
    the families), none otherwise. Safe inside a compiled function; :func:`fp32_arithmetic` is its partner outside.

    Parameters
    ----------
    device : torch.device
        Where the networks run.
    precision : str
        One of ``aevb.config.PRECISIONS``.

    Returns
    -------
    contextlib.AbstractContextManager
        The context to run the networks' forward pass in.

    Raises
    ------
    ConfigError
        If ``precision`` is not one of ``PRECISIONS``.
    """
    _check_precision(precision)
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


def fp32_arithmetic(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """How CUDA computes fp32 matmuls and convolutions for ``precision``, for the block: on the TF32 tensor cores
    (fp32 storage, products with a 10-bit mantissa) for ``"tf32"``, in IEEE fp32 otherwise. A no-op off CUDA, which
    has no TF32 units.

    ``"fp32"`` is IEEE fp32 here although torch's own default runs cuDNN's convolutions on TF32: the results of a run
    called fp32 then match the CPU's to fp32 rounding. The settings are process-wide flags (two threads computing at
    once share them), so enter this outside compiled code, around forward *and* backward (the trainer enters it
    around its loop, ``evaluate`` and ``aevb.scoring.score`` around their batches); the previous settings are
    restored after the block. A compiled function called under other settings than it was compiled under is compiled
    again (dynamo guards on them).

    Parameters
    ----------
    device : torch.device
        Where the networks run.
    precision : str
        One of ``aevb.config.PRECISIONS``.

    Returns
    -------
    contextlib.AbstractContextManager
        The context to run the networks in.

    Raises
    ------
    ConfigError
        If ``precision`` is not one of ``PRECISIONS``.
    """
    _check_precision(precision)
    return _tf32(precision == "tf32") if device.type == "cuda" else contextlib.nullcontext()


def _check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise ConfigError(f"precision = {precision!r} is not allowed; choose one of: {', '.join(PRECISIONS)}")


@contextlib.contextmanager
def _tf32(enabled: bool) -> Iterator[None]:
    """CUDA's fp32 matmuls and cuDNN's convolutions on TF32 (or not) for the block, the previous settings restored as
    the older API reads them (the newer one may then say ``"ieee"`` where it said ``"none"``: both are IEEE fp32).

    Through ``torch.set_float32_matmul_precision`` and ``cudnn.allow_tf32``, which keep torch's older and newer
    settings in step: setting only the newer per-backend ``fp32_precision`` leaves
    ``torch.get_float32_matmul_precision()`` raising ("mix of the legacy and new APIs"), and the compiler calls it.
    """
    cudnn = torch.backends.cudnn
    try:
        saved = torch.get_float32_matmul_precision(), cudnn.allow_tf32
    except RuntimeError:  # the process set the newer settings itself (the older getters refuse to read them): use those
        with _tf32_per_backend(enabled):
            yield
        return
    torch.set_float32_matmul_precision("high" if enabled else "highest")
    cudnn.allow_tf32 = enabled
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(saved[0])
        cudnn.allow_tf32 = saved[1]


@contextlib.contextmanager
def _tf32_per_backend(enabled: bool) -> Iterator[None]:
    """``_tf32`` through the newer per-backend settings, for a process that already uses them."""
    matmul, conv = torch.backends.cuda.matmul, torch.backends.cudnn.conv
    saved = matmul.fp32_precision, conv.fp32_precision
    matmul.fp32_precision = conv.fp32_precision = "tf32" if enabled else "ieee"
    try:
        yield
    finally:
        matmul.fp32_precision, conv.fp32_precision = saved


@contextlib.contextmanager
def fork_rng(device: torch.device) -> Iterator[None]:
    """Run the block on a copy of the global random state (and of every CUDA device's, when ``device`` is CUDA),
    restored afterwards, so evaluation and pictures never move a training run's random stream.

    Every CUDA device, not only ``device``: ``torch.manual_seed`` in the block reseeds them all.
    """
    with torch.random.fork_rng(devices=range(torch.cuda.device_count()) if device.type == "cuda" else []):
        yield


_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD_MAX = 32 * 2**20  # glibc caps the threshold at 32 MiB on 64-bit systems
_TRIM_THRESHOLD = 2**30
_DEFAULT_MMAP_THRESHOLD = 128 * 2**10

_tuned = False


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        return libc if hasattr(libc, "mallopt") else None
    except OSError:
        return None


def tune_cpu_allocator() -> bool:
    """Keep freed large blocks for reuse instead of unmapping them (glibc only; idempotent).

    Skipped when ``AEVB_MALLOC_TUNING=0``. Returns whether the setting is in force. The cost: memory freed by the
    process is returned to the OS later (up to 1 GiB is kept).
    """
    global _tuned
    if _tuned:
        return True
    if os.environ.get("AEVB_MALLOC_TUNING", "1") == "0":
        return False
    libc = _libc()
    if libc is None:
        return False
    ok = libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX) == 1
    ok = libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD) == 1 and ok
    _tuned = ok
    return ok


def reset_cpu_allocator() -> None:
    """Back to glibc's fixed default thresholds (for benchmarks that compare with and without the tuning)."""
    global _tuned
    libc = _libc()
    if libc is not None:
        libc.mallopt(_M_MMAP_THRESHOLD, _DEFAULT_MMAP_THRESHOLD)
        libc.mallopt(_M_TRIM_THRESHOLD, _DEFAULT_MMAP_THRESHOLD)
    _tuned = False
