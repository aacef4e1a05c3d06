"""Learning-rate schedules as pure functions of the epoch, so resuming needs no scheduler state."""

from __future__ import annotations

from collections.abc import Callable

from aevb.registry import Registry

SCHEDULES: Registry[Callable[[float, int], float]] = Registry("lr_schedule")


@SCHEDULES.register("constant")
def constant(lr: float, epoch: int) -> float:
    return lr


@SCHEDULES.register("iwae")
def iwae(lr: float, epoch: int) -> float:
    """Burda et al. (2015), App. C: passes i = 0..7 of 3^i epochs each, at learning rate lr · 10^(−i/7).

    With 3280 = Σ_{i<8} 3^i epochs this is the IWAE paper's whole schedule (lr = 1e-3 there); ``epoch`` counts from 0.
    """
    i, end = 0, 1
    while epoch >= end and i < 7:
        i += 1
        end += 3**i
    return lr * 10 ** (-i / 7)
