"""Retiring a shared queue (queue_retirement.py): unbound, emptied by its
consumers, deleted; or, when it cannot be emptied, bound again with nothing
lost. The fleet's queue type change under load is test_rabbit_refusals.py's.
"""
from __future__ import annotations

import json
import threading

import kombu
import pytest
from amqp import exceptions as amqp_exceptions

from messaging.drivers.rabbit.queue_retirement import QueueNotRetired
from tests.functional.conftest import raw_connection
from tests.functional.rabbit_helpers import WAIT, awaiting, catch


@pytest.fixture
def shared_queue(rabbit_url, rabbit_names, broker_cleanup):
    """A topic queue bound to the test's exchange as a server binds it, and
    a ``publish(n)`` that sends ``n`` messages through the exchange."""
    topic, exchange = rabbit_names
    connection = raw_connection(rabbit_url)
    channel = connection.channel()
    channel.exchange_declare(exchange, 'topic', durable=False, auto_delete=False)
    channel.queue_declare(topic, durable=False, auto_delete=False)
    channel.queue_bind(topic, exchange, topic)
    producer = kombu.Producer(connection.channel())

    def publish(count: int) -> None:
        for number in range(count):
            producer.publish({'number': number}, exchange=exchange, routing_key=topic)

    try:
        yield topic, exchange, publish
    finally:
        connection.release()


def _ready(url: str, name: str) -> int:
    with raw_connection(url) as connection:
        return connection.channel().queue_declare(name, passive=True)[1]


class _HeldConsumer:
    """A consumer with a prefetch of one that acks a message only when the
    test says so (``ack_all``), so that the queue empties at its pace."""

    def __init__(self, url: str, queue: str) -> None:
        self.connection = raw_connection(url)
        self.channel = self.connection.channel()
        self.channel.basic_qos(0, 1, False)
        self.received: list = []
        #: Set when the broker cancels it (its queue deleted).
        self.cancelled = threading.Event()
        self.channel.basic_consume(queue, callback=self.received.append,
                                   on_cancel=lambda tag: self.cancelled.set())

    def ack_all(self, until: threading.Event) -> None:
        """Ack each message as it comes until ``until`` is set."""
        acked = 0
        while not until.is_set():
            try:
                self.connection.drain_events(timeout=0.05)
            except TimeoutError:
                pass
            for message in self.received[acked:]:
                self.channel.basic_ack(message.delivery_tag)
                acked += 1

    def close(self) -> None:
        self.connection.release()


def test_a_queue_its_consumer_empties_is_deleted_with_every_message_taken(
        rabbit_url, rabbit_transport, shared_queue):
    topic, exchange, publish = shared_queue
    publish(5)
    consumer = _HeldConsumer(rabbit_url, topic)
    transport = rabbit_transport()
    try:
        result = {}
        retiring = threading.Thread(target=lambda: result.update(retired=catch(
            transport.admin.retire_queue, topic, exchange, timeout=4)))
        with awaiting('INFO', 'unbound from exchange'):
            retiring.start()
        done = threading.Event()
        acking = threading.Thread(target=consumer.ack_all, args=(done,))
        acking.start()
        retiring.join(2 * WAIT)
        done.set()
        acking.join(WAIT)
        retired = result['retired']
        # One message was with the consumer, four waited in the queue; all
        # five came to the consumer, and the queue is gone (nobody declared
        # it again: no server of ours consumed it).
        assert (retired.backlog, retired.consumers) == (4, 1)
        assert sorted(json.loads(m.body)['number'] for m in consumer.received) == [0, 1, 2, 3, 4]
        assert retired.drained_after <= retired.deleted_after
        assert retired.declared_again_after is None
        assert consumer.cancelled.is_set()
        assert isinstance(catch(_ready, rabbit_url, topic), amqp_exceptions.NotFound)
    finally:
        consumer.close()


def test_a_queue_nobody_consumes_is_kept_bound_with_its_messages(
        rabbit_url, rabbit_transport, shared_queue):
    topic, exchange, publish = shared_queue
    publish(3)
    error = catch(rabbit_transport().admin.retire_queue, topic, exchange, timeout=4)
    assert isinstance(error, QueueNotRetired)
    assert 'holds 3 message(s) and nobody consumes it' in str(error)
    # Still bound: what is published now reaches it too.
    publish(1)
    assert _ready(rabbit_url, topic) == 4


def test_a_queue_that_does_not_empty_in_time_is_kept_bound_with_its_messages(
        rabbit_url, rabbit_transport, shared_queue):
    topic, exchange, publish = shared_queue
    publish(3)
    consumer = _HeldConsumer(rabbit_url, topic)  # takes one, acks none
    try:
        error = catch(rabbit_transport().admin.retire_queue, topic, exchange, timeout=1)
        assert isinstance(error, QueueNotRetired)
        assert 'still holds 2 message(s) after 0.5 s' in str(error)
        publish(1)
    finally:
        consumer.close()
    # The unacked one is back with the others, and the new one came in.
    assert _ready(rabbit_url, topic) == 4


def test_a_queue_that_does_not_exist_is_named(rabbit_transport, unique_name):
    name = unique_name('missing')
    error = catch(rabbit_transport().admin.retire_queue, name, timeout=4)
    assert isinstance(error, QueueNotRetired)
    assert 'There is no queue %s' % name in str(error)
