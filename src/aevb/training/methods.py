"""Training methods, looked up by ``TrainConfig.method`` (``aevb train --method``) in :data:`METHODS`.

Registered: ``"aevb"`` (SGVB, Kingma & Welling 2014 Algorithm 1, :mod:`aevb.training.sgvb`), ``"wake-sleep"``
(Hinton et al. 1995, :mod:`aevb.training.wake_sleep`), ``"mcem"`` (Monte Carlo EM with HMC, App. E,
:mod:`aevb.training.mcem`). What a method is: :mod:`aevb.training.update`.
"""

from __future__ import annotations

from aevb.registry import Registry
from aevb.training.mcem import MCEM
from aevb.training.sgvb import AEVB
from aevb.training.update import Method
from aevb.training.wake_sleep import WakeSleep

METHODS: Registry[type[Method]] = Registry("training method")
METHODS.register("aevb")(AEVB)
METHODS.register("wake-sleep")(WakeSleep)
METHODS.register("mcem")(MCEM)
