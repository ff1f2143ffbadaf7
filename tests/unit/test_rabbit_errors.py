"""What the driver makes of the broker's refusals: each is told apart and
says what to check."""
from __future__ import annotations

import ssl

import pytest
from amqp import exceptions as amqp_exc

from messaging import exceptions
from messaging.drivers.rabbit.errors import (AuthenticationFailure, BrokerRefusal,
                                             CertificateVerificationFailure,
                                             DeclarationMismatch, DeprecatedFeatureDenied,
                                             PermissionDenied, QueueRefused,
                                             VirtualHostNotFound, out_of_time, refusal)


@pytest.mark.parametrize('answer, kind, advice', [
    (amqp_exc.AccessRefused('(403) ACCESS_REFUSED - Login was refused using '
                            'authentication mechanism AMQPLAIN'),
     AuthenticationFailure, 'rabbitmqctl authenticate_user'),
    (amqp_exc.AccessRefused("(403) ACCESS_REFUSED - access to queue 'q' in vhost 'v' "
                            "refused for user 'u'"),
     PermissionDenied, 'rabbitmqctl list_user_permissions'),
    (amqp_exc.NotAllowed('(530) NOT_ALLOWED - vhost v not found'),
     VirtualHostNotFound, 'rabbitmqctl list_vhosts'),
    (amqp_exc.NotAllowed("(530) NOT_ALLOWED - access to vhost 'v' refused for user 'u'"),
     PermissionDenied, 'rabbitmqctl set_permissions -p VHOST USER'),
    (ssl.SSLCertVerificationError('certificate verify failed'),
     CertificateVerificationFailure, 'ssl_ca_file'),
])
def test_each_refusal_is_its_own_error_naming_host_vhost_and_what_to_check(
        answer, kind, advice):
    error = refusal(answer, 'declare consumer of q', 'broker:5672', 'v')
    assert type(error) is kind
    assert isinstance(error, BrokerRefusal)
    assert isinstance(error, exceptions.MessageDeliveryFailure)
    assert 'broker:5672' in str(error) and advice in str(error)
    assert str(answer) in str(error)


# RabbitMQ 4.3's answer to a non-durable, non-exclusive queue, as py-amqp
# raises it (the broker closes the connection).
DENIED_TRANSIENT_QUEUE = amqp_exc.InternalError(
    'Queue.declare: (541) INTERNAL_ERROR - Feature `transient_nonexcl_queues` is '
    'deprecated.\nIts use is not permitted per the configuration')


@pytest.mark.parametrize('answer, kind, advice', [
    (amqp_exc.PreconditionFailed("(406) PRECONDITION_FAILED - inequivalent arg "
                                 "'x-max-length' for queue 'q' in vhost 'v'"),
     DeclarationMismatch, 'rabbitmqctl list_queues -p VHOST name durable auto_delete'),
    (DENIED_TRANSIENT_QUEUE, DeprecatedFeatureDenied,
     'deprecated_features.permit.FEATURE = true'),
    (amqp_exc.AccessRefused("(403) ACCESS_REFUSED - access to queue 'q' in vhost 'v' "
                            "refused for user 'u'"),
     PermissionDenied, 'rabbitmqctl set_permissions'),
])
def test_a_refused_queue_declaration_names_the_queue_its_arguments_and_the_fix(
        answer, kind, advice):
    carried = QueueRefused("q (durable False, auto-delete False, arguments "
                           "{'x-expires': 1800000})", answer)
    error = refusal(carried, 'declare consumer of q', 'broker:5672', 'v')
    assert type(error) is kind
    # A server's consumers wait such a refusal out with backoff, logging it;
    # a bounded operation fails at once with it.
    assert isinstance(error, BrokerRefusal)
    for part in ('declare queue q (durable False', "'x-expires': 1800000",
                 'declare consumer of q', 'broker:5672', 'vhost v', str(answer), advice):
        assert part in str(error)


def test_a_transient_queue_denied_says_which_options_to_set():
    error = refusal(DENIED_TRANSIENT_QUEUE, 'declare consumer of q', 'broker:5672', '/')
    for option in ('rabbit_quorum_queue = true', 'amqp_durable_queues = true',
                   'rabbit_transient_quorum_queue = true'):
        assert option in str(error)


def test_faults_a_reconnect_may_mend_are_no_refusal():
    for fault in (amqp_exc.InternalError('(541) INTERNAL_ERROR - timeout'),
                  amqp_exc.PreconditionFailed(
                      "queue 'q_fanout' in vhost '/' does not have a replica on the local node"),
                  ConnectionResetError(104, 'Connection reset by peer'),
                  amqp_exc.NotFound("(404) NOT_FOUND - no queue 'q'")):
        assert refusal(fault, 'consume', 'broker:5672') is None
        assert refusal(QueueRefused('q', fault), 'consume', 'broker:5672') is None


def test_running_out_of_time_is_a_timeout_naming_host_vhost_and_the_last_error():
    error = out_of_time('publish to x/y', 'broker:5672', 'v', 3,
                        ConnectionRefusedError(111, 'Connection refused'))
    assert isinstance(error, exceptions.MessagingTimeout)
    assert isinstance(error, exceptions.MessageDeliveryFailure)
    for part in ('publish to x/y', 'broker:5672', 'vhost v', '3 attempt(s)',
                 'ConnectionRefusedError', 'Connection refused'):
        assert part in str(error)


NOT_READY = amqp_exc.PreconditionFailed(
    "queue 'q_fanout' in vhost '/' does not have a replica on the local node")
MISMATCH = amqp_exc.PreconditionFailed("inequivalent arg 'x-queue-type' for queue 'q'")


def test_a_stream_with_no_replica_here_yet_is_not_a_refusal():
    from messaging.drivers.rabbit import errors

    assert errors.not_ready_yet(NOT_READY) and not errors.not_ready_yet(MISMATCH)
    assert issubclass(errors.QueueNotReady, errors.RECOVERABLE)


@pytest.mark.parametrize('error, channels, refused', [(NOT_READY, 2, False),
                                                      (MISMATCH, 1, True)])
def test_a_stream_with_no_replica_here_yet_is_retried_not_dropped(error, channels, refused):
    import time

    from messaging.drivers.rabbit import errors
    from messaging.drivers.rabbit.consumer_set import ConsumerSet
    from messaging.drivers.rabbit.declarations import QueueSpec
    from tests.unit.rabbit_fakes import FakeChannel, conf, linked

    spec = QueueSpec('q_fanout', durable=True, auto_delete=False)
    failures = [error]
    link, kombu = linked(lambda: FakeChannel(
        fail={'basic_consume': failures.pop()} if failures else None))
    consumers = ConsumerSet(link, conf())
    try:
        if refused:
            # Refused: at once, not retried.
            with pytest.raises(errors.DeclarationMismatch):
                consumers.declare(spec, lambda message: None, deadline=time.monotonic() + 5)
        else:
            # Not ready: reconnected, and consumed on the next channel.
            consumers.declare(spec, lambda message: None, deadline=time.monotonic() + 5)
    finally:
        link.close()
    assert len(kombu.channels) == channels
