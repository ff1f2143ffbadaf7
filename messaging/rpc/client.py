"""RPC client. (The client itself arrives with the RPC layer; the exceptions
below are already used by the drivers.)"""
from __future__ import annotations

from messaging import exceptions


class RemoteError(exceptions.MessagingException):
    """A remote method raised an exception that could not be rebuilt locally.

    ``exc_type`` is the remote class name, ``value`` its message and
    ``traceback`` the remote traceback lines.
    """

    def __init__(self, exc_type=None, value=None, traceback=None) -> None:
        self.exc_type = exc_type
        self.value = value
        self.traceback = traceback
        msg = ('Remote error: %(exc_type)s %(value)s\n%(traceback)s.'
               % dict(exc_type=exc_type, value=value, traceback=traceback))
        super().__init__(msg)


class ClientSendError(exceptions.MessagingException):
    """Raised when a client could not send a message."""

    def __init__(self, target, ex) -> None:
        super().__init__('Failed to send to target "%s": %s' % (target, ex))
        self.target = target
        self.ex = ex


class RPCVersionCapError(exceptions.MessagingException):
    """Raised when a call asks for a version above the client's cap."""

    def __init__(self, version, version_cap) -> None:
        self.version = version
        self.version_cap = version_cap
        super().__init__('Requested message version, %(version)s is incompatible. '
                         'It needs to be equal in major version and less than or '
                         'equal in minor version as the specified version cap '
                         '%(version_cap)s.' % dict(version=version,
                                                   version_cap=version_cap))
