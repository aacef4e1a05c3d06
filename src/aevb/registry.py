"""A name → factory table, so models and their parts are looked up, not chosen by ``if/elif`` on strings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from aevb.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to factories. ``get`` of an unknown name raises :class:`ConfigError` listing the known ones."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def decorator(obj: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = obj
            return obj

        return decorator

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            raise ConfigError(f"unknown {self.kind} {name!r}; choose one of: {', '.join(self.names())}") from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


# Model constructors: ``MODELS.get(name)(config, event_shape) -> nn.Module``. Filled by ``aevb.models``.
MODELS: Registry[Callable] = Registry("model")
# Decoder (likelihood) and encoder (posterior) families; filled by ``aevb.likelihoods`` / ``aevb.posteriors``.
LIKELIHOODS: Registry[Callable] = Registry("likelihood")
POSTERIORS: Registry[Callable] = Registry("posterior")
