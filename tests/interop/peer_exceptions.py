"""Exceptions raised by the interop endpoints, importable by both processes.

The test process and the oslo.messaging peer both put this directory on their
path, so this module has the same name, ``peer_exceptions``, on both sides:
a failure one side serializes names a class the other side can rebuild when
the caller lists this module in ``allowed_remote_exmods``.
"""


class PeerError(Exception):
    """A service's own exception: positional args plus ``kwargs``.

    ``kwargs`` is what a failure reply carries in its ``kwargs`` field and what
    the receiving side passes back to the constructor.
    """

    def __init__(self, message, code=None, **kwargs):
        super().__init__(message, code)
        self.kwargs = kwargs


class ExpectedPeerError(PeerError):
    """Raised by a method marked with ``expected_exceptions``."""
