"""A connection's publisher confirms: the wait for the awaited publish's ack
or nack, bounded by a deadline, and the broker's blocked state that the
timeout error then names."""
from __future__ import annotations

import socket
import time
from types import SimpleNamespace

import pytest

from messaging import exceptions
from messaging.drivers.rabbit.confirms import PublishConfirms
from messaging.drivers.rabbit.engine import lean
from messaging.drivers.rabbit.errors import PublishTimeout


class FakeLink:
    """What a confirm wait reads with (a link.Link): every read yields one
    frame, ``on_read()``; the timeouts set are recorded."""

    def __init__(self, on_read=lambda: None) -> None:
        self.reads = 0
        self.timeouts = []
        self._on_read = on_read

    def publish_timeout(self, remaining, bound) -> None:
        self.timeouts.append((remaining, bound))

    def read_frames(self) -> None:
        self.reads += 1
        time.sleep(0.005)
        self._on_read()


class FakeChannel:
    """Records confirm_select, and the confirm handlers the lean engine
    registers with its connection (an amqp_link.AmqpLink's
    ``register_confirms``)."""

    def __init__(self) -> None:
        self.confirm_mode = False
        self.handlers: list = []
        self.connection = SimpleNamespace(
            register_confirms=lambda channel, on_ack, on_nack: self.handlers.append(
                (channel, on_ack, on_nack)))

    def confirm_select(self) -> None:
        self.confirm_mode = True


@pytest.fixture
def confirms():
    return PublishConfirms(lambda: 'h:5672', 'test:1:conn', lean)


def _publish(confirms: PublishConfirms, count: int) -> None:
    for _ in range(count):
        confirms.expect()


def test_a_confirm_wait_ends_at_its_deadline_even_while_frames_keep_arriving(confirms):
    # py-amqp's own wait restarts its timeout on every frame (heartbeats),
    # so a blocked broker that still sends heartbeats would hold it forever.
    link = FakeLink()
    _publish(confirms, 1)
    started = time.monotonic()
    with pytest.raises(socket.timeout):
        confirms.wait(link, started + 0.2, 0.2)
    assert time.monotonic() - started < 2
    assert link.reads > 3


def test_the_ack_of_the_awaited_publish_ends_the_wait(confirms):
    _publish(confirms, 3)
    link = FakeLink(lambda: confirms._on_ack(3, False))
    confirms.wait(link, time.monotonic() + 5, 5)
    assert link.reads == 1


def test_a_multiple_ack_covering_the_awaited_publish_ends_the_wait(confirms):
    _publish(confirms, 3)
    acks = iter([(2, False), (4, True)])
    link = FakeLink(lambda: confirms._on_ack(*next(acks)))
    confirms.wait(link, time.monotonic() + 5, 5)
    assert link.reads == 2


def test_a_nack_is_a_delivery_failure_naming_the_message_and_broker(confirms):
    _publish(confirms, 1)
    link = FakeLink(lambda: confirms._on_nack(1, False))
    with pytest.raises(exceptions.MessageDeliveryFailure,
                       match=r'h:5672 refused \(nacked\) message 1 on test:1:conn'):
        confirms.wait(link, time.monotonic() + 5, 5)


def test_a_new_channel_is_put_in_confirm_mode_and_counts_from_one(confirms):
    _publish(confirms, 5)
    channel = FakeChannel()
    confirms.new_channel(channel)
    assert channel.confirm_mode
    _publish(confirms, 1)
    # The fresh channel's first publish is delivery tag 1: its ack settles it.
    [(registered, on_ack, _on_nack)] = channel.handlers
    assert registered is channel
    on_ack(1, False)
    confirms.wait(FakeLink(), time.monotonic() + 0.2, 0.2)


def test_a_channel_without_confirms_is_left_alone(confirms):
    confirms.on_blocked('low on memory')
    confirms.new_channel(None)
    assert confirms.blocked_reason is None


def test_blocked_and_unblocked_are_logged_and_remembered(confirms, caplog):
    with caplog.at_level('WARNING', logger='messaging.drivers.rabbit.confirms'):
        confirms.on_blocked('low on memory')
        assert confirms.blocked_reason == 'low on memory'
        confirms.on_unblocked()
    assert confirms.blocked_reason is None
    messages = [r.getMessage() for r in caplog.records]
    assert any('h:5672 blocked publishing on test:1:conn (low on memory)' in m
               and 'memory or disk alarm' in m for m in messages)
    assert any('h:5672 unblocked publishing on test:1:conn' in m for m in messages)


def test_the_timeout_names_the_alarm_only_while_the_broker_blocks_us(confirms):
    confirms.on_blocked('low on memory')
    blocked = confirms.timeout('publish to x/y', 2.0)
    assert isinstance(blocked, PublishTimeout)
    assert 'blocked publishing (low on memory)' in str(blocked)
    confirms.on_unblocked()
    assert 'did not answer' in str(confirms.timeout('publish to x/y', 2.0))
