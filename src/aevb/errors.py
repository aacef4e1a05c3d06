"""Exceptions raised for bad input.

Every error a user can trigger (bad data, bad config, bad files) is an ``AevbError``, so the CLI can print
its message without a traceback. Each message names what was wrong and what is allowed.
"""

from __future__ import annotations


class AevbError(Exception):
    """Base class for user-facing errors; the CLI prints ``str(err)`` and exits with status 2."""


class ConfigError(AevbError, ValueError):
    """An unknown key, a value of the wrong type, or a value out of its allowed range."""


class DataError(AevbError, ValueError):
    """Data that cannot be used: missing files, bad checksums, wrong shape, NaN, values outside the support."""


class CheckpointError(AevbError, ValueError):
    """A model or checkpoint file that is missing, corrupted, truncated, from a newer version or unsafe to load."""


class TrainingError(AevbError, RuntimeError):
    """Training cannot go on (for example the loss became non-finite)."""


class Interrupted(AevbError):
    """The user stopped a long command (Ctrl-C) after its state was saved.

    The CLI exits with status 130, and the message says how to continue.
    """
