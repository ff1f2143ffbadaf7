"""The rabbit Connection's bounded publish: confirms awaited against a
deadline, retries that stop at a call's deadline, and the errors raised."""
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


class FakeLink:
    """An amqp connection whose every read yields one frame: ``on_read()``."""

    def __init__(self, on_read=lambda: None) -> None:
        self.transport = SimpleNamespace(sock=None)
        self.reads = 0
        self._on_read = on_read

    def drain_events(self, timeout=None) -> None:
        self.reads += 1
        time.sleep(0.005)
        self._on_read()


@pytest.fixture
def connection():
    conn = Connection(_conf(), ['amqp://guest:guest@127.0.0.1:1//'])
    yield conn
    conn._closed = True


def _awaiting(conn: Connection, tag: int) -> None:
    conn._awaiting, conn._confirmed = tag, None


def test_a_confirm_wait_ends_at_its_deadline_even_while_frames_keep_arriving(connection):
    # py-amqp's own wait restarts its timeout on every frame (heartbeats),
    # so a blocked broker that still sends heartbeats would hold it forever.
    link = FakeLink()
    _awaiting(connection, 1)
    started = time.monotonic()
    with pytest.raises(socket.timeout):
        connection._await_confirm(link, started + 0.2, 0.2)
    assert time.monotonic() - started < 2
    assert link.reads > 3


def test_the_ack_of_the_awaited_publish_ends_the_wait(connection):
    _awaiting(connection, 3)
    link = FakeLink(lambda: connection._on_ack(3, False))
    connection._await_confirm(link, time.monotonic() + 5, 5)
    assert link.reads == 1


def test_a_multiple_ack_covering_the_awaited_publish_ends_the_wait(connection):
    _awaiting(connection, 3)
    acks = iter([(2, False), (4, True)])
    link = FakeLink(lambda: connection._on_ack(*next(acks)))
    connection._await_confirm(link, time.monotonic() + 5, 5)
    assert link.reads == 2


def test_a_nack_is_a_delivery_failure(connection):
    _awaiting(connection, 1)
    link = FakeLink(lambda: connection._on_nack(1, False))
    with pytest.raises(exceptions.MessageDeliveryFailure, match='nacked'):
        connection._await_confirm(link, time.monotonic() + 5, 5)


def test_retries_stop_at_the_deadline_with_a_timeout(connection):
    connection._connect = lambda: setattr(connection, '_channel', object())

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
    connection._connect = lambda: setattr(connection, '_channel', object())

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


def test_blocked_and_unblocked_are_logged_and_remembered(connection, caplog):
    with caplog.at_level('WARNING', logger='messaging.drivers.rabbit.connection'):
        connection._on_blocked('low on memory')
        assert connection._blocked_reason == 'low on memory'
        connection._on_unblocked()
    assert connection._blocked_reason is None
    messages = [r.getMessage() for r in caplog.records]
    assert any('blocked publishing' in m and 'memory or disk alarm' in m for m in messages)
    assert any('unblocked publishing' in m for m in messages)
