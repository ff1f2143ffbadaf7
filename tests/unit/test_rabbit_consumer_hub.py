"""The consumer hub and pushing listeners, over fake shared connections:
places on connections, settling a delivery once, and a stop that waits for
a push under way."""
from __future__ import annotations

import json
import threading
from types import SimpleNamespace

import pytest

from messaging.drivers.rabbit.codec import Codec
from messaging.drivers.rabbit.consumer_hub import ConsumerHub
from messaging.drivers.rabbit.declarations import QueueSpec
from messaging.drivers.rabbit.notification_listener import NotificationListener
from messaging.drivers.rabbit.rpc_listener import RpcListener


class FakeConnection:
    """What a listener uses of a SharedConnection, recording settlements."""

    def __init__(self):
        self.name = 'fake'
        self.channel = object()
        self.codec = Codec(None, 0)
        self.callbacks = {}
        self.settled = []
        self.cancelled = []
        self.closed = False

    def declare_consumer(self, spec, callback, deadline=None, cursor=None, renew=None):
        tag = str(len(self.callbacks) + 1)
        self.callbacks[tag] = callback
        return tag

    def ack(self, channel, delivery_tag, requeue=None):
        self.settled.append((delivery_tag, requeue))

    def cancel_consumers(self, tags=None):
        self.cancelled.extend(tags)

    def close(self):
        self.closed = True


def raw(connection, tag, body, consumer='1'):
    return SimpleNamespace(channel=connection.channel, delivery_tag=tag,
                           delivery_info={'consumer_tag': consumer, 'routing_key': 'rk'},
                           properties={'content_type': 'application/json',
                                       'content_encoding': 'utf-8'},
                           body=json.dumps(body).encode())


NOTIFICATION = {'message_id': 'm', 'publisher_id': 'p', 'event_type': 'e',
                'priority': 'INFO', 'payload': 1, 'timestamp': 't'}


def notification_listener(connection, batch_size=1):
    listener = NotificationListener(connection, batch_size=batch_size, batch_timeout=None,
                                    prefetch_size=0, on_cleanup=lambda listener: None)
    listener.consume(QueueSpec('q', durable=False, auto_delete=False))
    return listener


def test_the_hub_fills_a_connection_before_opening_another_and_closes_the_empty():
    made = []
    hub = ConsumerHub(lambda: made.append(FakeConnection()) or made[-1], per_connection=2)
    first, second, third = hub.attach(), hub.attach(), hub.attach()
    assert first is second and third is not first and len(hub.connections) == 2
    hub.detach(first)
    assert not first.closed
    hub.detach(second)
    assert first.closed and hub.connections == [third]
    assert hub.attach() is third
    hub.close()
    assert third.closed and hub.connections == []


def test_a_delivery_is_settled_once_decoded_or_released():
    connection = FakeConnection()
    listener = notification_listener(connection)
    pushed = []
    assert listener.start_push(pushed.append) is True
    connection.callbacks['1'](raw(connection, 1, NOTIFICATION))
    connection.callbacks['1'](raw(connection, 2, NOTIFICATION))
    taken, returned = pushed
    assert connection.settled == []  # nothing settled on the I/O thread
    assert taken.decode().message['payload'] == 1
    taken.release()
    returned.release()
    assert connection.settled == [(2, True)]
    with pytest.raises(RuntimeError):
        returned.decode()


def test_a_delivery_of_a_lost_channel_is_dropped_at_decode():
    connection = FakeConnection()
    listener = notification_listener(connection)
    pushed = []
    listener.start_push(pushed.append)
    connection.callbacks['1'](raw(connection, 1, NOTIFICATION))
    connection.channel = object()  # reconnected since
    assert pushed[0].decode() is None and connection.settled == []


def test_a_malformed_rpc_request_is_rejected_at_decode_not_on_delivery():
    connection = FakeConnection()
    listener = RpcListener(connection, sender=None, batch_size=1, batch_timeout=None,
                           prefetch_size=0, on_cleanup=lambda listener: None)
    listener.consume(QueueSpec('q', durable=False, auto_delete=False))
    pushed = []
    listener.start_push(pushed.append)
    bad = raw(connection, 5, {})
    bad.body = b'{not json'
    connection.callbacks['1'](bad)
    assert connection.settled == []
    assert pushed[0].decode() is None and connection.settled == [(5, False)]


def test_deliveries_queued_before_push_are_pushed_and_a_batch_listener_is_polled():
    connection = FakeConnection()
    listener = notification_listener(connection)
    connection.callbacks['1'](raw(connection, 1, NOTIFICATION))
    pushed = []
    listener.start_push(pushed.append)
    assert len(pushed) == 1
    assert notification_listener(FakeConnection(), batch_size=5).start_push(
        pushed.append) is False


def test_stop_waits_for_a_push_under_way_and_later_deliveries_are_given_back():
    connection = FakeConnection()
    listener = notification_listener(connection)
    inside, release, stopped = threading.Event(), threading.Event(), threading.Event()

    def slow_push(delivery):
        inside.set()
        release.wait(5)

    listener.start_push(slow_push)
    io = threading.Thread(target=connection.callbacks['1'],
                          args=(raw(connection, 1, NOTIFICATION),))
    io.start()
    inside.wait(5)
    stopper = threading.Thread(target=lambda: (listener.stop(), stopped.set()))
    stopper.start()
    assert not stopped.wait(0.2)  # the push is still under way
    release.set()
    assert stopped.wait(5)
    io.join(5)
    stopper.join(5)
    connection.callbacks['1'](raw(connection, 2, NOTIFICATION))
    assert connection.settled == [(2, True)]


def test_cleanup_cancels_its_consumers_and_requeues_what_was_not_polled():
    connection = FakeConnection()
    listener = notification_listener(connection)
    connection.callbacks['1'](raw(connection, 1, NOTIFICATION))
    listener.stop()
    listener.cleanup()
    assert connection.cancelled == ['1'] and connection.settled == [(1, True)]
    assert listener.queue_of(raw(connection, 1, {})) == 'q'
