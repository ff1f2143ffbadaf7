"""The rabbit Connection's bounded publish: retries that stop at a call's
deadline, and the errors raised (the confirm wait itself is in
test_rabbit_connection_confirms)."""
from __future__ import annotations

import socket
import time
from types import SimpleNamespace

import pytest

from messaging import exceptions
from messaging.drivers.rabbit.connection import Connection
from messaging.drivers.rabbit.errors import PublishTimeout, publish_timeout


def _conf(**overrides):
    values = dict(kombu_compression=None, max_message_size=0,
                  rabbit_login_method='AMQPLAIN', heartbeat_timeout_threshold=0,
                  heartbeat_rate=2, kombu_failover_strategy='round-robin',
                  kombu_reconnect_delay=0.01, kombu_reconnect_splay=0.0,
                  rabbit_retry_interval=0.01, rabbit_retry_backoff=0.01,
                  rabbit_interval_max=0.05, rabbit_qos_prefetch_count=0,
                  publish_timeout=1.0, enable_cancel_on_failover=False)
    values.update(overrides)
    return SimpleNamespace(**values)


@pytest.fixture
def connection():
    conn = Connection(_conf(), ['amqp://guest:guest@127.0.0.1:1//'])
    yield conn
    conn._closed = True


def test_retries_stop_at_the_deadline_with_a_timeout(connection):
    connection._connect = lambda deadline=None: setattr(connection, '_channel', object())

    def unreachable(channel):
        raise ConnectionResetError('reset by peer')

    started = time.monotonic()
    with pytest.raises(PublishTimeout, match='before its timeout') as failure:
        connection.ensure(unreachable, retry=None, what='publish to x/y', writes=False,
                          deadline=started + 0.2)
    assert time.monotonic() - started < 2
    assert isinstance(failure.value, exceptions.MessagingTimeout)


def test_a_publish_timeout_drops_the_channel_so_a_late_confirm_is_not_misread(
        connection):
    connection._connect = lambda deadline=None: setattr(connection, '_channel', object())

    def not_confirmed(channel):
        raise publish_timeout('publish to x/y', 'h:5672', 1.0, None)

    with pytest.raises(PublishTimeout):
        connection.ensure(not_confirmed, writes=False)
    assert connection.channel is None


def test_the_error_names_the_alarm_when_the_broker_blocked_us():
    blocked = publish_timeout('publish to x/y', 'h:5672', 2.0, 'low on memory')
    assert isinstance(blocked, exceptions.MessagingTimeout)
    assert isinstance(blocked, exceptions.MessageDeliveryFailure)
    assert 'blocked publishing (low on memory)' in str(blocked)
    assert 'vm_memory_high_watermark' in str(blocked)
    silent = publish_timeout('publish to x/y', 'h:5672', 2.0, None)
    assert 'did not answer' in str(silent) and 'blocked' not in str(silent)


def test_a_publish_timed_out_while_blocked_names_the_broker_alarm(connection):
    def write(data):
        raise socket.timeout('timed out')

    stalled = SimpleNamespace(transport=SimpleNamespace(sock=None), frame_max=4096,
                              write_frames=lambda chunks: [write(c) for c in chunks])
    connection._connect = lambda deadline=None: setattr(
        connection, '_channel', SimpleNamespace(connection=stalled, channel_id=1))
    connection._kombu.transport_options['on_blocked']('low on memory')
    with pytest.raises(PublishTimeout, match=r'blocked publishing \(low on memory\)'):
        connection.publish(None, 'q', {'x': 1}, expiration=0.5)
