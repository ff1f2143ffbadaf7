"""What the driver makes of broker errors: which are worth a reconnect and a
retry, and which no retry can change (raised at once, saying what to check).
"""
from __future__ import annotations

import ssl
from typing import Optional

from amqp import exceptions as amqp_exc

from messaging import exceptions
from messaging.drivers.base import TransportDriverError

RECOVERABLE = (amqp_exc.RecoverableConnectionError, amqp_exc.RecoverableChannelError,
               amqp_exc.ConnectionError, amqp_exc.NotFound, OSError, EOFError)


class AuthenticationFailure(exceptions.MessageDeliveryFailure):
    """The broker refused our credentials; retrying would not help."""


class CertificateVerificationFailure(exceptions.MessageDeliveryFailure):
    """The broker's TLS certificate did not verify; retrying would not help."""


class DeclarationMismatch(TransportDriverError):
    """A queue or exchange exists with other flags (406 PRECONDITION_FAILED)."""


# Broker answers no retry can change: what to raise, and what to say (with
# the operation, the host and the broker's words).
_FATAL = (
    (amqp_exc.AccessRefused, AuthenticationFailure,
     'Access to %(host)s refused (%(ex)s): check the user name, password and vhost '
     'permissions of the transport URL'),
    # An SSLError is an OSError, so otherwise recoverable; but a certificate
    # that does not verify stays so on every try.
    (ssl.SSLCertVerificationError, CertificateVerificationFailure,
     'TLS certificate of %(host)s did not verify (%(ex)s): check ssl_ca_file and that '
     'the host name in the transport URL is one the certificate names'),
    (amqp_exc.PreconditionFailed, DeclarationMismatch,
     '%(what)s on %(host)s refused by the broker (%(ex)s): an existing queue or exchange '
     'was declared with other flags or arguments; every peer on the vhost must use the '
     'same [oslo_messaging_rabbit] queue options'),
)
FATAL_TYPES = tuple(kind for kind, _error, _text in _FATAL)


class DurableMismatch(Exception):
    """A durable declaration met an existing non-durable entity; the
    connection is made again and declares it non-durable (WIRE.md 4.4)."""


def is_durable_mismatch(ex: Exception) -> bool:
    """Whether the broker refused a declaration over its ``durable`` flag only."""
    return (isinstance(ex, amqp_exc.PreconditionFailed)
            and "inequivalent arg 'durable'" in str(ex))


def fatal(ex: Exception, what: str, host: str) -> Exception:
    """The error to raise for ``ex``, one of the ``_FATAL`` broker answers."""
    error, text = next((error, text) for kind, error, text in _FATAL
                       if isinstance(ex, kind))
    return error(text % {'what': what, 'host': host, 'ex': ex})


class PublishTimeout(exceptions.MessagingTimeout, exceptions.MessageDeliveryFailure):
    """The broker did not take a message in time (no publisher confirm).

    Both a ``MessagingTimeout`` (what callers of ``call()`` catch) and a
    ``MessageDeliveryFailure`` (what callers of ``cast()`` and notifiers
    catch). The message may still be delivered later: it left our socket.
    """


def publish_timeout(what: str, host: str, timeout: float,
                    blocked_reason: Optional[str]) -> PublishTimeout:
    """The error for a publish the broker did not confirm within ``timeout``.

    :param blocked_reason: the broker's ``connection.blocked`` reason when
        it blocked this connection, which is then named as the cause.
    """
    if blocked_reason is not None:
        cause = ('the broker has blocked publishing (%s): RabbitMQ does so while a '
                 'memory or disk alarm is in effect. Free memory or disk on the broker '
                 'or raise its vm_memory_high_watermark / disk_free_limit (see '
                 '"rabbitmqctl status" and the broker log)' % blocked_reason)
    else:
        cause = ('the broker did not answer: it may be blocking publishers for a memory '
                 'or disk alarm (see "rabbitmqctl status"), be overloaded, or the network '
                 'to it may be stalled; check the broker and its log')
    return PublishTimeout(
        '%s on %s was not confirmed within %.1f s: %s. The message may still be '
        'delivered once the broker reads it; a call\'s timeout or the '
        '[oslo_messaging_rabbit] publish_timeout option bounds this wait'
        % (what, host, timeout, cause))
