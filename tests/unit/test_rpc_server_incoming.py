"""RPCServer._process_incoming: ack, dispatch and reply order, and its faults."""
from __future__ import annotations

import logging

import pytest

import messaging
from tests.unit.test_rpc_support import TOPIC, RecordingIncoming, make_transport


def server_and_request(msg_id='msg-1', method='run', incoming_cls=RecordingIncoming):
    incoming = incoming_cls({'method': method, 'args': {}}, msg_id=msg_id)

    class Endpoint:
        def run(self, ctxt):
            incoming.events.append('dispatch')
            return 'result'

        def fail(self, ctxt):
            incoming.events.append('dispatch')
            raise KeyError('missing')

    server = messaging.get_rpc_server(make_transport(),
                                      messaging.Target(topic=TOPIC, server='s'), [Endpoint()])
    return server, incoming


def test_call_is_acknowledged_before_dispatch_then_answered():
    server, incoming = server_and_request()
    server._process_incoming([incoming])
    assert incoming.events == ['ack', 'dispatch', 'reply']
    assert incoming.replies == [('result', None)]


def test_failure_is_sent_back_as_the_exception_raised():
    server, incoming = server_and_request(method='fail')
    server._process_incoming([incoming])
    (result, failure), = incoming.replies
    assert result is None and isinstance(failure, KeyError)
    assert failure.__traceback__ is not None


def test_cast_gets_no_reply():
    server, incoming = server_and_request(msg_id=None)
    server._process_incoming([incoming])
    assert incoming.events == ['ack', 'dispatch']


def test_message_that_cannot_be_acknowledged_is_not_dispatched(caplog):
    class Unackable(RecordingIncoming):
        def acknowledge(self):
            raise IOError('channel closed')

    server, incoming = server_and_request(incoming_cls=Unackable)
    server._process_incoming([incoming])
    assert incoming.events == []
    assert 'Can not acknowledge message. Skip processing' in caplog.text


def test_undeliverable_reply_is_logged_with_routing_and_the_server_survives(caplog):
    class Undeliverable(RecordingIncoming):
        def reply(self, reply=None, failure=None):
            raise messaging.MessageUndeliverable(ValueError('no route'), 'the-exchange',
                                                 'reply_abc', {})

    server, incoming = server_and_request(incoming_cls=Undeliverable)
    with caplog.at_level(logging.ERROR):
        server._process_incoming([incoming])
    assert 'reply_abc' in caplog.text and 'the-exchange' in caplog.text


@pytest.mark.parametrize('error', [IOError('connection lost'),
                                   messaging.MessageDeliveryFailure('gave up')])
def test_failed_reply_is_logged_and_the_server_survives(caplog, error):
    class Failing(RecordingIncoming):
        def reply(self, reply=None, failure=None):
            raise error

    server, incoming = server_and_request(incoming_cls=Failing)
    server._process_incoming([incoming])
    assert 'Can not send reply for message' in caplog.text
    assert [record.msg_id for record in caplog.records] == ['msg-1']


def test_missing_ignore_errors_method_is_logged_at_debug_only(caplog):
    server, incoming = server_and_request(method='probe_ignore_errors')
    with caplog.at_level(logging.DEBUG, logger='messaging.rpc.server'):
        server._process_incoming([incoming])
    assert isinstance(incoming.replies[0][1], messaging.NoSuchMethod)
    assert [r.levelno for r in caplog.records if r.levelno >= logging.WARNING] == []
