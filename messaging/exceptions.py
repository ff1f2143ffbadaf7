"""Exceptions shared by every layer of the library.

The class names and module layout follow oslo.messaging so that a failure
serialized by one library is rebuilt as the same type by the other (see
``messaging.wire`` for the module-name mapping).
"""
from __future__ import annotations

__all__ = ['MessagingException', 'MessagingTimeout', 'MessageDeliveryFailure',
           'InvalidTarget', 'MessageUndeliverable']


class MessagingException(Exception):
    """Base class for the exceptions raised by this library."""


class MessagingTimeout(MessagingException):
    """Raised when a call or a send did not complete in time."""


class MessageDeliveryFailure(MessagingException):
    """Raised when a message could not be handed to the broker."""


class InvalidTarget(MessagingException, ValueError):
    """Raised when a Target lacks a field the operation needs."""

    def __init__(self, msg: str, target) -> None:
        msg = msg + ":" + str(target)
        super().__init__(msg)
        self.target = target


class ConfigurationError(Exception):
    """Raised when messaging is not configured correctly (as oslo's, not in __all__)."""


class MessageUndeliverable(Exception):
    """Raised when the broker returned a mandatory message as unroutable."""

    def __init__(self, exception, exchange, routing_key, message) -> None:
        super().__init__()
        self.exception = exception
        self.exchange = exchange
        self.routing_key = routing_key
        self.message = message
