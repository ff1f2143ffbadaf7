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


class BrokerRefusal(exceptions.MessageDeliveryFailure):
    """The broker refused us for a reason no retry mends by itself (an
    operator must change the URL, the broker's users or its certificates).

    A bounded operation fails at once with it; a server's consumers keep
    trying with backoff, logging it, while the operator fixes the cause.
    """


class BrokerUnreachable(exceptions.MessageDeliveryFailure):
    """No host of the transport URL let us log in (the text says, for each,
    why: refused, unknown host, TLS, credentials, vhost)."""


class AuthenticationFailure(BrokerRefusal):
    """The broker refused our user name or password."""


class VirtualHostNotFound(BrokerRefusal):
    """The transport URL names a virtual host the broker does not have."""


class PermissionDenied(BrokerRefusal):
    """The user may not use the virtual host, or a queue or exchange on it."""


class CertificateVerificationFailure(BrokerRefusal):
    """The broker's TLS certificate did not verify."""


class DeclarationMismatch(BrokerRefusal, TransportDriverError):
    """A queue or exchange exists with other flags (406 PRECONDITION_FAILED).

    The broker gives the same answer until an operator aligns the options
    or deletes the entity: a bounded operation fails at once, a running
    server logs it and tries again with backoff.
    """


class DeprecatedFeatureDenied(BrokerRefusal):
    """The broker denies a deprecated feature the declaration needs (541
    INTERNAL_ERROR "Feature `...` is deprecated", RabbitMQ 4), e.g.
    ``transient_nonexcl_queues``: a non-durable, non-exclusive queue."""


class QueueRefused(Exception):
    """Carries a queue's refused declaration, with the queue, up to the
    retry path (``refusal``), which makes the error to raise or log of it.

    :param queue: the queue as declared: name, flags, arguments.
    :param cause: the broker's answer.
    """

    def __init__(self, queue: str, cause: Exception) -> None:
        super().__init__(queue, cause)
        self.queue = queue
        self.cause = cause


# Broker answers no retry can change: the kind of error, the words of the
# broker's answer that select it (None: any), what to raise and what to say
# (with the operation, the host, the vhost and the broker's words).
_FATAL = (
    (amqp_exc.AccessRefused, 'Login was refused', AuthenticationFailure,
     'the broker %(host)s refused the user name or password of the transport URL '
     '(%(ex)s): check them, e.g. with "rabbitmqctl authenticate_user USER PASSWORD" '
     'on the broker'),
    (amqp_exc.AccessRefused, None, PermissionDenied,
     '%(what)s on %(host)s, vhost %(vhost)s, was refused (%(ex)s): the user lacks a '
     'permission there; see "rabbitmqctl list_user_permissions USER" and grant it with '
     '"rabbitmqctl set_permissions"'),
    (amqp_exc.NotAllowed, 'not found', VirtualHostNotFound,
     'the broker %(host)s has no virtual host %(vhost)s (%(ex)s): check the path of the '
     'transport URL (rabbit://user:password@host:port/VHOST, "/" being "%%2F" or an '
     'empty path) against "rabbitmqctl list_vhosts"'),
    (amqp_exc.NotAllowed, None, PermissionDenied,
     'the broker %(host)s does not let the user of the transport URL use vhost '
     '%(vhost)s (%(ex)s): grant it with "rabbitmqctl set_permissions -p VHOST USER '
     '\'.*\' \'.*\' \'.*\'"'),
    # An SSLError is an OSError, so otherwise recoverable; but a certificate
    # that does not verify stays so on every try.
    (ssl.SSLCertVerificationError, None, CertificateVerificationFailure,
     'TLS certificate of %(host)s did not verify (%(ex)s): check ssl_ca_file and that '
     'the host name in the transport URL is one the certificate names'),
    (amqp_exc.InternalError, 'is deprecated', DeprecatedFeatureDenied,
     '%(what)s on %(host)s, vhost %(vhost)s, was refused by the broker (%(ex)s): it '
     'denies a deprecated feature this needs. For transient_nonexcl_queues (RabbitMQ '
     '4 refuses non-durable, non-exclusive queues), set [oslo_messaging_rabbit] '
     'rabbit_quorum_queue = true (or amqp_durable_queues = true) on every service of the '
     'vhost, for the shared topic and notification queues (a process\'s own reply and '
     'fanout queues are made durable by themselves; rabbit_transient_quorum_queue = true '
     'makes them replicated quorum queues); or permit the feature on every broker node '
     'with "deprecated_features.permit.FEATURE = true" in rabbitmq.conf'),
    (amqp_exc.PreconditionFailed, None, DeclarationMismatch,
     '%(what)s on %(host)s, vhost %(vhost)s, was refused by the broker (%(ex)s): an '
     'existing queue or exchange was declared with other flags or arguments; every peer '
     'on the vhost must use the same [oslo_messaging_rabbit] queue options. Compare '
     'what the broker has ("rabbitmqctl list_queues -p VHOST name durable auto_delete '
     'arguments", "rabbitmqctl list_exchanges -p VHOST name durable") with them, align '
     'them, then delete the old entity so that the next declaration makes it anew'),
)
FATAL_TYPES = tuple({kind: None for kind, _words, _error, _text in _FATAL})
# What the retry path catches: a fault worth a reconnect, or a refusal
# (``refusal`` tells them apart).
RETRIED_OR_REFUSED = RECOVERABLE + FATAL_TYPES + (QueueRefused, BrokerRefusal)


# Words of a 406 that the broker says of a queue not ready yet where we
# asked, not of our declaration: a stream consumed on a node that has no
# replica of it (while a node is down or a replica starts). A new try,
# on another node if need be, mends it.
_NOT_READY_YET = ('does not have a replica on the local node',)


class QueueNotReady(amqp_exc.RecoverableChannelError):
    """The broker cannot serve the queue on this node now (see
    ``not_ready_yet``): reconnect and try again, as for a lost connection."""


def not_ready_yet(ex: Exception) -> bool:
    """Whether a refusal means the queue is not ready where we asked, which
    a later try mends (unlike a declaration mismatch)."""
    return (isinstance(ex, amqp_exc.PreconditionFailed)
            and any(words in str(ex) for words in _NOT_READY_YET))


class DeclareAgain(Exception):
    """The broker closed the channel over a declaration that will be made
    otherwise on the next try (see declarations.ChannelDeclarer); the retry
    path makes the connection again and goes on at once."""


class PrivateQueueUnavailable(DeclareAgain):
    """The broker holds this process's own queue (a reply or fanout queue)
    but cannot serve it: 404 to its declaration, its process stopped or its
    node down (RabbitMQ 4's Khepri keeps a classic queue of a stopped node
    until the node is back). Its consumer takes a queue of a new name
    (``ConsumerSet``); the channel is closed, so the next try reconnects."""

    def __init__(self, queue: str, cause: Exception) -> None:
        super().__init__('queue', queue)
        self.cause = cause


def is_durable_mismatch(ex: Exception) -> bool:
    """Whether the broker refused a declaration over its ``durable`` flag only."""
    return (isinstance(ex, amqp_exc.PreconditionFailed)
            and "inequivalent arg 'durable'" in str(ex))


def is_refusal(ex: BaseException) -> bool:
    """Whether ``ex`` is a broker answer no retry changes (``_FATAL``)."""
    return not not_ready_yet(ex) and _fatal_row(ex) is not None


def _fatal_row(ex: BaseException) -> Optional[tuple]:
    return next(((error, text) for kind, words, error, text in _FATAL
                 if isinstance(ex, kind) and (words is None or words in str(ex))), None)


def refusal(ex: BaseException, what: str, host: str, vhost: str = '/'
            ) -> Optional[BrokerRefusal]:
    """The error to raise (or, for a server's consumers, log) for ``ex``
    when no retry changes it, else None (a fault worth a reconnect).

    :param ex: what ``what`` failed with: the broker's answer, a
        ``QueueRefused`` carrying it with its queue, or a ``BrokerRefusal``
        made already.
    """
    if isinstance(ex, BrokerRefusal):
        return ex
    if isinstance(ex, QueueRefused):
        what, ex = 'declare queue %s (for %s)' % (ex.queue, what), ex.cause
    row = None if not_ready_yet(ex) else _fatal_row(ex)
    if row is None:
        return None
    error, text = row
    return error(text % {'what': what, 'host': host, 'vhost': vhost, 'ex': ex})


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


def out_of_time(what: str, host: str, vhost: str, attempts: int,
                last_error: BaseException) -> PublishTimeout:
    """The error for ``what`` given up at its caller's deadline, naming
    the broker tried and the last error met on the way."""
    return PublishTimeout(
        '%s could not be done before its timeout (%d attempt(s)): the last try on %s, '
        'vhost %s, failed with %s: %s; check that the broker is up and reachable at '
        'that address' % (what, attempts, host, vhost, type(last_error).__name__,
                          last_error))
