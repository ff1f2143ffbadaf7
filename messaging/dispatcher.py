"""The base class of dispatchers, at the module path oslo.messaging gives it."""
from __future__ import annotations

import abc
from typing import Any

__all__ = ['DispatcherBase']


class DispatcherBase(metaclass=abc.ABCMeta):
    """Hands what a server receives to its endpoints."""

    @abc.abstractmethod
    def dispatch(self, incoming: Any) -> Any:
        """Dispatch ``incoming`` (a message, or a batch) to the endpoints."""
