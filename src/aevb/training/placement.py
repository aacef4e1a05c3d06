"""Where the training data live: on the accelerator when they fit, so the permutation and the minibatch gather run
there and no step waits for a host→device copy; else in CPU memory, each minibatch pinned and copied asynchronously."""

from __future__ import annotations

import torch

# The data may take this share of the device's free memory; the model, its activations and the optimizer need the rest.
RESIDENT_SHARE = 0.5


def data_placement(nbytes: int, device: torch.device, free: int | None = None) -> tuple[bool, str]:
    """``(resident, message)``: whether ``nbytes`` of training data are kept on ``device``, and a one-line note for the
    console (empty on the CPU, where there is nothing to decide). ``free``: the device's free bytes (default: asked
    of CUDA; unknown elsewhere, where the data are kept on the device)."""
    if device.type == "cpu":
        return True, ""
    if free is None and device.type == "cuda":
        free = torch.cuda.mem_get_info(device)[0]
    size = f"{nbytes / 1e6:,.1f} MB"
    if free is None:
        return True, f"data: {size} resident on {device}"
    if nbytes <= RESIDENT_SHARE * free:
        return True, f"data: {size} resident on {device} ({free / 1e9:,.1f} GB free): minibatches are gathered there"
    return False, (
        f"data: {size} is more than {RESIDENT_SHARE:.0%} of the {free / 1e9:,.1f} GB free on {device}: kept in CPU "
        "memory, each minibatch gathered there into pinned memory and copied as it is needed"
    )
