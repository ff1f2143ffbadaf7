"""A send connection's bounded publish: retries that stop at a call's
deadline, and the errors raised (the confirm wait itself is in
test_rabbit_connection_confirms)."""
from __future__ import annotations

import socket
import time

import pytest

from messaging import exceptions
from messaging.drivers.rabbit.errors import PublishTimeout, publish_timeout
from messaging.drivers.rabbit.publisher import Publisher
from messaging.drivers.rabbit.codec import Codec
from tests.unit.rabbit_fakes import FakeChannel, linked


@pytest.fixture
def link():
    link, _kombu = linked(confirm=True)
    yield link
    link.close()


def test_retries_stop_at_the_deadline_with_a_timeout(link):
    def unreachable(channel):
        raise ConnectionResetError('reset by peer')

    started = time.monotonic()
    with pytest.raises(PublishTimeout, match='before its timeout') as failure:
        link.ensure(unreachable, retry=None, what='publish to x/y', writes=False,
                    deadline=started + 0.2)
    assert time.monotonic() - started < 2
    assert isinstance(failure.value, exceptions.MessagingTimeout)


def test_a_publish_timeout_drops_the_channel_so_a_late_confirm_is_not_misread(link):
    def not_confirmed(channel):
        raise publish_timeout('publish to x/y', 'h:5672', 1.0, None)

    with pytest.raises(PublishTimeout):
        link.ensure(not_confirmed, writes=False)
    assert link.channel is None


def test_the_error_names_the_alarm_when_the_broker_blocked_us():
    blocked = publish_timeout('publish to x/y', 'h:5672', 2.0, 'low on memory')
    assert isinstance(blocked, exceptions.MessagingTimeout)
    assert isinstance(blocked, exceptions.MessageDeliveryFailure)
    assert 'blocked publishing (low on memory)' in str(blocked)
    assert 'vm_memory_high_watermark' in str(blocked)
    silent = publish_timeout('publish to x/y', 'h:5672', 2.0, None)
    assert 'did not answer' in str(silent) and 'blocked' not in str(silent)


def test_a_publish_timed_out_while_blocked_names_the_broker_alarm():
    def stalled():
        channel = FakeChannel()

        def write(chunk):
            raise socket.timeout('timed out')

        channel.connection.on_write = write
        return channel

    link, _kombu = linked(stalled, confirm=True)
    publisher = Publisher(link, Codec(None, 0), publish_timeout=1.0)
    try:
        link.ensure(lambda channel: None)  # connected, then blocked
        link.confirms.on_blocked('low on memory')
        with pytest.raises(PublishTimeout, match=r'blocked publishing \(low on memory\)'):
            publisher.publish(None, 'q', {'x': 1}, expiration=0.5)
    finally:
        link.close()


def test_a_returned_mandatory_message_is_undeliverable():
    link, kombu = linked(confirm=False)
    publisher = Publisher(link, Codec(None, 0), publish_timeout=1.0)

    fired = []

    def returned(chunk):
        if not fired:
            fired.append(chunk)
            for on_return in kombu.channels[-1].events['basic_return']:
                on_return(Exception('NO_ROUTE'), '', 'q', object())

    try:
        link.ensure(lambda channel: setattr(channel.connection, 'on_write', returned))
        with pytest.raises(exceptions.MessageUndeliverable):
            publisher.publish(None, 'q', {'x': 1}, mandatory=True)
        publisher.publish(None, 'q', {'x': 2})
    finally:
        link.close()
