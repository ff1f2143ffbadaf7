"""What the driver makes of the broker's refusals: each is told apart and
says what to check."""
from __future__ import annotations

import ssl

import pytest
from amqp import exceptions as amqp_exc

from messaging import exceptions
from messaging.drivers.rabbit.errors import (AuthenticationFailure, BrokerRefusal,
                                             CertificateVerificationFailure,
                                             DeclarationMismatch, PermissionDenied,
                                             VirtualHostNotFound, fatal, out_of_time)


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
    error = fatal(answer, 'declare consumer of q', 'broker:5672', 'v')
    assert type(error) is kind
    assert isinstance(error, BrokerRefusal)
    assert isinstance(error, exceptions.MessageDeliveryFailure)
    assert 'broker:5672' in str(error) and advice in str(error)
    assert str(answer) in str(error)


def test_a_declaration_mismatch_is_no_refusal_a_server_would_wait_out():
    error = fatal(amqp_exc.PreconditionFailed("inequivalent arg 'x-queue-type'"),
                  'declare q', 'broker:5672', '/')
    assert isinstance(error, DeclarationMismatch)
    assert not isinstance(error, BrokerRefusal)


def test_running_out_of_time_is_a_timeout_naming_host_vhost_and_the_last_error():
    error = out_of_time('publish to x/y', 'broker:5672', 'v', 3,
                        ConnectionRefusedError(111, 'Connection refused'))
    assert isinstance(error, exceptions.MessagingTimeout)
    assert isinstance(error, exceptions.MessageDeliveryFailure)
    for part in ('publish to x/y', 'broker:5672', 'vhost v', '3 attempt(s)',
                 'ConnectionRefusedError', 'Connection refused'):
        assert part in str(error)
