"""A name → factory table, so models and their parts are looked up, not chosen by ``if/elif`` on strings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from aevb.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to factories. ``get`` of an unknown name raises ``ConfigError`` listing the known ones.

    Parameters
    ----------
    kind : str
        What the entries are (``"model"``, ``"likelihood"``, …): the word that error messages use for them.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """A decorator that enters the object it decorates under ``name`` and returns that object unchanged.

        Registering a name a second time is an error: the decorator raises ``ValueError`` ("registered twice").

        Parameters
        ----------
        name : str
            The name the object is looked up by (``get(name)``).

        Returns
        -------
        Callable[[T], T]
            The decorator.
        """

        def decorator(obj: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = obj
            return obj

        return decorator

    def get(self, name: str) -> T:
        """The entry registered under ``name``.

        Parameters
        ----------
        name : str
            A registered name.

        Returns
        -------
        T
            The registered object (a factory, class or function).

        Raises
        ------
        ConfigError
            If no entry has that name; the message lists the registered names.
        """
        try:
            return self._entries[name]
        except KeyError:
            raise ConfigError(f"unknown {self.kind} {name!r}; choose one of: {', '.join(self.names())}") from None

    def names(self) -> list[str]:
        """The registered names.

        Returns
        -------
        list of str
            The names, sorted.
        """
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


MODELS: Registry[Callable] = Registry("model")
"""Model constructors: ``MODELS.get(name)(config, event_shape) -> nn.Module``. Filled by ``aevb.models``."""
LIKELIHOODS: Registry[Callable] = Registry("likelihood")
"""Decoder (likelihood) families ``p_θ(x|z)``, by name (``ModelConfig.likelihood``); filled by ``aevb.likelihoods``."""
POSTERIORS: Registry[Callable] = Registry("posterior")
"""Encoder (posterior) families ``q_φ(z|x)``, by name (``ModelConfig.posterior``); filled by ``aevb.posteriors``."""
