"""The consumer set of a link (a fake kombu connection under it): tags,
replay on every new channel, a consumer refused on replay set aside and
tried again, cancels, settling deliveries, and the queue checks after a
reconnect."""
from __future__ import annotations

import logging
import time

import pytest
from amqp import exceptions as amqp_exc

from messaging.drivers.rabbit import consumer_set
from messaging.drivers.rabbit.consumer_set import ConsumerSet
from messaging.drivers.rabbit.declarations import QueueSpec
from messaging.drivers.rabbit.stream_fanout import StreamCursor
from tests.unit.rabbit_fakes import FakeChannel, conf, linked

REFUSED = amqp_exc.PreconditionFailed(
    "PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue 'b' in vhost '/'")
# RabbitMQ 4 (Khepri) to the declaration of a classic queue of a stopped node.
NODE_DOWN = amqp_exc.NotFound(
    "NOT_FOUND - queue 'reply_1' in vhost '/' process is stopped by supervisor")


def spec(name: str) -> QueueSpec:
    return QueueSpec(name, durable=False, auto_delete=False)


def consumed(channel) -> list[tuple[str, str]]:
    """``(queue, tag)`` of each basic.consume on ``channel``."""
    return [call[1:] for call in channel.calls if call[0] == 'basic_consume']


@pytest.fixture
def parts():
    link, kombu = linked()
    yield link, kombu, ConsumerSet(link, conf())
    link.close()


def test_tags_count_up_and_are_never_reused(parts):
    link, _kombu, consumers = parts
    assert [consumers.declare(spec(n), print) for n in 'ab'] == ['1', '2']
    consumers.cancel(['2'])
    assert consumers.declare(spec('c'), print) == '3'
    assert consumers.tags == ['1', '3']


def test_every_consumer_is_consumed_again_on_a_new_channel_until_cancelled(parts):
    link, kombu, consumers = parts
    consumers.declare(spec('a'), print)
    consumers.declare(spec('b'), print)
    consumers.cancel(['1'])
    assert ('basic_cancel', '1') in kombu.channels[-1].calls
    link.mark_broken()
    link.ensure(lambda channel: None)
    assert len(kombu.channels) == 2
    assert consumed(kombu.channels[-1]) == [('b', '2')]


def test_on_a_new_channel_every_queue_is_declared_before_the_first_consume(parts):
    """A refused declaration closes the channel: no consumer may have
    started receiving on it by then."""
    link, kombu, consumers = parts
    for name in 'abc':
        consumers.declare(spec(name), print)
    link.mark_broken()
    link.ensure(lambda channel: None)
    steps = [call[0] for call in kombu.channels[-1].calls
             if call[0] in ('queue_declare', 'basic_consume')]
    assert steps == ['queue_declare'] * 3 + ['basic_consume'] * 3
    assert consumed(kombu.channels[-1]) == [('a', '1'), ('b', '2'), ('c', '3')]


def test_a_consumer_the_broker_cancelled_is_consumed_again_on_the_same_channel():
    link, kombu = linked()
    now = [1000.0]
    consumers = ConsumerSet(link, conf(), clock=lambda: now[0])
    consumers.declare(spec('a'), print)
    consumers.declare(spec('b'), print)
    channel = kombu.channels[-1]
    assert consumers.next_upkeep() == float('inf')
    cancelled = now[0]
    channel.broker_cancels('1')  # its queue was deleted
    due = consumers.next_upkeep()
    assert cancelled + consumer_set.CANCEL_SETTLE <= due
    assert due <= now[0] + consumer_set.CANCEL_SETTLE
    assert not consumers.upkeep()  # not yet: a vhost's deletion closes the connection
    assert consumed(channel) == [('a', '1'), ('b', '2')]
    now[0] = due
    assert consumers.upkeep()
    # No reconnect: the deliveries received before the cancel stay on
    # their channel, to be acked there.
    assert kombu.channels == [channel]
    assert consumed(channel) == [('a', '1'), ('b', '2'), ('a', '1')]
    assert consumers.next_upkeep() == float('inf') and not consumers.upkeep()
    link.close()


def test_a_stream_consumer_the_broker_cancelled_reads_the_new_stream_from_its_tail(parts):
    link, kombu, consumers = parts
    cursor = StreamCursor('t_fanout')
    cursor.next_offset = 42
    consumers.declare(spec('t_fanout'), print, cursor=cursor)
    kombu.channels[-1].broker_cancels('1')
    assert cursor.consumer_arguments() == {'x-stream-offset': 'next'}


def test_a_consumer_cancelled_by_us_after_the_broker_did_is_not_consumed_again(
        parts, monkeypatch):
    link, kombu, consumers = parts
    consumers.declare(spec('a'), print)
    monkeypatch.setattr(consumer_set, 'CANCEL_SETTLE', 0.0)
    kombu.channels[-1].broker_cancels('1')
    consumers.cancel(['1'])
    consumers.upkeep()
    assert consumed(kombu.channels[-1]) == [('a', '1')]


def test_a_reconnect_before_the_upkeep_consumes_a_cancelled_consumer_once(parts):
    link, kombu, consumers = parts
    consumers.declare(spec('a'), print)
    kombu.channels[-1].broker_cancels('1')
    link.mark_broken()
    link.ensure(lambda channel: None)
    assert consumed(kombu.channels[-1]) == [('a', '1')]
    assert consumers.next_upkeep() > time.monotonic()


def test_a_cancel_while_the_link_is_down_just_forgets(parts):
    link, kombu, consumers = parts
    consumers.declare(spec('a'), print)
    link.mark_broken()
    consumers.cancel()
    assert consumers.tags == [] and ('basic_cancel', '1') not in kombu.channels[-1].calls


def test_a_consumer_refused_on_a_reconnect_is_set_aside_and_tried_again(caplog):
    refusals = []
    link, kombu = linked(lambda: FakeChannel(
        fail={('queue_declare', 'b'): refusals.pop()} if refusals else None))
    consumers = ConsumerSet(link, conf())
    try:
        consumers.declare(spec('a'), print)
        consumers.declare(spec('b'), print)
        # On the reconnect, 'a' is declared again, then 'b' is refused.
        refusals.append(REFUSED)
        link.mark_broken()
        with caplog.at_level(logging.INFO, logger=consumer_set.__name__):
            link.ensure(lambda channel: None)
            assert consumers.tags == ['1']
            assert consumed(kombu.channels[-1]) == [('a', '1')]
            refused = [r.getMessage() for r in caplog.records if r.levelname == 'ERROR']
            assert len(refused) == 1 and 'consumer 2 of' in refused[0]
            assert 'the other consumers of the connection go on' in refused[0]
            # Nothing to do before its backoff has passed; then it is back.
            time.sleep(max(consumers.next_upkeep() - time.monotonic(), 0))
            assert consumers.upkeep()
        assert consumers.tags == ['1', '2']
        assert ('b', '2') in consumed(kombu.channels[-1])
        assert any('is declared again, after 1 refusal(s)' in r.getMessage()
                   for r in caplog.records if r.levelname == 'INFO')
    finally:
        link.close()


def test_a_reconnect_schedules_checks_of_the_queues_consumed_again(parts, monkeypatch):
    link, kombu, consumers = parts
    monkeypatch.setattr(consumer_set, 'RECHECKS_AFTER_RECONNECT', (0.0, 60.0))
    assert consumers.next_upkeep() == float('inf')
    consumers.declare(spec('a'), print)
    assert not consumers.upkeep()  # the first connect schedules nothing
    link.mark_broken()
    link.ensure(lambda channel: None)
    assert consumers.upkeep()
    assert ('queue_declare', 'a') in kombu.channels[-1].calls[-1:]
    assert consumers.next_upkeep() > time.monotonic() + 30


def test_a_delivery_is_settled_on_its_own_channel_only(parts, caplog):
    link, kombu, consumers = parts
    link.ensure(lambda channel: None)
    old = link.channel
    consumers.ack(old, 1)
    consumers.ack(old, 2, requeue=True)
    assert len(old.connection.frames) == 2
    link.mark_broken()
    link.ensure(lambda channel: None)
    consumers.ack(old, 3)
    assert len(old.connection.frames) == 2 and not link.channel.connection.frames


def test_a_settle_that_fails_marks_the_link_broken(parts, caplog):
    link, _kombu, consumers = parts
    link.ensure(lambda channel: None)

    def broken(chunk):
        raise ConnectionResetError('reset by peer')

    link.channel.connection.on_write = broken
    with caplog.at_level(logging.WARNING, logger=consumer_set.__name__):
        consumers.ack(link.channel, 7)
    assert not link.usable
    assert 'Could not settle delivery 7' in caplog.records[0].getMessage()


def test_a_delivery_whose_channel_another_thread_just_closed_is_left_to_the_broker(
        parts, caplog):
    link, _kombu, consumers = parts
    link.ensure(lambda channel: None)
    channel = link.channel
    channel.channel_id = None  # py-amqp's collect(), half done by a reading thread
    with caplog.at_level(logging.WARNING, logger=consumer_set.__name__):
        consumers.ack(channel, 8)
    assert not link.usable and not channel.connection.frames
    assert 'Could not settle delivery 8' in caplog.records[0].getMessage()


def test_a_private_queue_the_broker_cannot_serve_is_replaced_by_one_of_a_new_name(caplog):
    link, kombu = linked(lambda: FakeChannel(fail={('queue_declare', 'reply_1'): NODE_DOWN},
                                             sticky=True))
    consumers = ConsumerSet(link, conf())
    replaced = []

    def renew(old: QueueSpec) -> QueueSpec:
        replaced.append(old.name)
        return QueueSpec('reply_2', False, False, private=True)

    try:
        with caplog.at_level(logging.WARNING, logger=consumer_set.__name__):
            tag = consumers.declare(QueueSpec('reply_1', False, False, private=True), print,
                                    renew=renew)
        assert replaced == ['reply_1']
        assert consumed(kombu.channels[-1]) == [('reply_2', tag)]
        [warning] = [r.getMessage() for r in caplog.records]
        assert 'cannot serve queue reply_1' in warning
        assert 'Consuming a new queue, reply_2, instead' in warning
        # Declared under its new name on every new channel from then on.
        link.mark_broken()
        link.ensure(lambda channel: None)
        assert consumed(kombu.channels[-1]) == [('reply_2', tag)]
    finally:
        link.close()


def test_a_shared_queue_the_broker_cannot_serve_keeps_its_name():
    """A topic queue's name is its peers' too: its declaration is tried
    again, as for a lost connection, until its node is back."""
    failures = [NODE_DOWN]
    link, kombu = linked(lambda: FakeChannel(
        fail={('queue_declare', 'topic'): failures.pop()} if failures else None))
    consumers = ConsumerSet(link, conf())
    try:
        tag = consumers.declare(spec('topic'), print, renew=lambda old: spec('other'))
        assert len(kombu.channels) == 2
        assert consumed(kombu.channels[-1]) == [('topic', tag)]
    finally:
        link.close()
