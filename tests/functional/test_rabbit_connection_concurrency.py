"""The connections' locking protocol (link.py) under load, on the real broker.

For a few seconds, from many threads at once: publishes with confirms on a
send connection, to queues consumed on a shared (hub) connection and on a
reply-style connection; new consumers declared and cancelled on the shared
connection; deliveries acked by other threads than the ones reading them;
heartbeats every half second on all three; and the broker closing the
shared connection, then all of them, in the middle. What must hold: every
thread ends within a bound once asked (no deadlock), no exception escapes a
thread, every confirmed message is received, each exactly once or else
redelivered (by id), and the connections work afterwards.
"""
from __future__ import annotations

import collections
import logging
import queue
import sys
import threading
import time
import traceback
from typing import Any, Callable

import pytest

from messaging import exceptions
from messaging.drivers.rabbit.connection import Connection
from messaging.drivers.rabbit.declarations import QueueSpec
from messaging.drivers.rabbit.shared_connection import SharedConnection
from tests.functional.conftest import _kombu_url, close_connection, close_our_connections
from tests.unit.rabbit_fakes import conf

pytestmark = pytest.mark.timeout(240)

LOAD_SECONDS = 6.0
# Once asked to stop, every thread ends within this; every confirmed
# message arrives within this after the load stops.
JOIN_BOUND = 30.0
DELIVERY_BOUND = 30.0
# A heartbeat tick every 0.5 s on every connection.
OPTIONS = dict(heartbeat_timeout_threshold=2, heartbeat_rate=2, publish_timeout=10.0,
               kombu_reconnect_delay=0.05, rabbit_retry_interval=0.05,
               rabbit_retry_backoff=0.05, rabbit_interval_max=0.2)
PUBLISHERS_PER_QUEUE = 1
ACKERS = 2
CHURN_PAUSE = 0.01
HEARTBEAT_LOGGER = 'amqp.connection.Connection.heartbeat_tick'


class Load:
    """The test's threads, what they did, and what escaped them."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        self.errors: list[str] = []
        self.counts: collections.Counter = collections.Counter()
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)
        # By message id: the redelivered flag of each receipt.
        self.receipts: dict[str, list[bool]] = collections.defaultdict(list)
        self.attempted: set[str] = set()
        self.confirmed: set[str] = set()
        # Ids whose publish spanned a reconnect of the send connection: the
        # retry path may have written them twice.
        self.republished: set[str] = set()

    def spawn(self, name: str, target: Callable[..., None], *args: Any) -> threading.Thread:
        def run() -> None:
            try:
                target(*args)
            except BaseException:
                self.errors.append('%s: %s' % (name, traceback.format_exc()))

        thread = threading.Thread(target=run, name='load-%s' % name, daemon=True)
        self.threads.append(thread)
        thread.start()
        return thread

    def count(self, what: str) -> None:
        with self.lock:
            self.counts[what] += 1

    def receive(self, connection: Any, raw: Any) -> None:
        """A consumer callback's work: record the message by id."""
        try:
            msg_id = connection.codec.decode(raw)['id']
        except Exception:
            self.errors.append('decode: %s' % traceback.format_exc())
            return
        with self.arrived:
            self.receipts[msg_id].append(raw.delivery_info['redelivered'])
            self.counts['deliveries'] += 1
            self.arrived.notify_all()

    def missing(self, timeout: float) -> set[str]:
        """The confirmed ids not received, once all are or ``timeout`` passed."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while True:
                missing = self.confirmed - self.receipts.keys()
                left = deadline - time.monotonic()
                if not missing or left <= 0:
                    return missing
                self.arrived.wait(left)


def stuck(threads: list[threading.Thread], timeout: float) -> list[str]:
    """Join ``threads`` within ``timeout`` in all; the stacks of those left."""
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(deadline - time.monotonic(), 0))
    frames = sys._current_frames()
    return ['%s:\n%s' % (thread.name, ''.join(traceback.format_stack(frames[thread.ident])))
            for thread in threads if thread.is_alive() and thread.ident in frames]


def publish(load: Load, send: Connection, queue_name: str, prefix: str) -> None:
    """Publish numbered messages with confirms until the load stops."""
    number = 0
    while not load.stop.is_set():
        number += 1
        msg_id = '%s-%d' % (prefix, number)
        generation = send.generation
        with load.lock:
            load.attempted.add(msg_id)
        try:
            send.publish(None, queue_name, {'id': msg_id})
            confirmed = True
        except exceptions.MessageDeliveryFailure:  # not confirmed in time: may arrive
            confirmed = False
        with load.lock:
            if send.generation != generation:
                load.republished.add(msg_id)
            load.counts['publishes'] += 1
            if confirmed:
                load.confirmed.add(msg_id)
            else:
                load.counts['publishes unconfirmed'] += 1


def churn(load: Load, shared: SharedConnection, prefix: str, tags: queue.Queue,
          done: threading.Event) -> None:
    """Declare a consumer of a new queue, again and again."""
    number = 0
    try:
        while not load.stop.is_set():
            number += 1
            spec = QueueSpec('%s.churn.%d' % (prefix, number), durable=False,
                             auto_delete=True)
            tags.put(shared.declare_consumer(spec, lambda raw: load.count('churn deliveries')))
            load.count('declares')
            load.stop.wait(CHURN_PAUSE)
    finally:
        done.set()


def serve(load: Load, items: queue.Queue, finished: threading.Event,
          handle: Callable[[Any], None], what: str) -> None:
    """Handle ``items`` as they come (on this thread), until ``finished``
    is set and none is left."""
    while not (finished.is_set() and items.empty()):
        try:
            item = items.get(timeout=0.1)
        except queue.Empty:
            continue
        handle(item)
        load.count(what)


def read(load: Load, reply: SharedConnection, done: threading.Event) -> None:
    """Read the reply-style connection, as the reply waiter's thread does."""
    while not done.is_set():
        reply.read(0.25)


def round_trip(send: Connection, listen: Any, queue_name: str) -> None:
    """A new consumer on ``listen`` receives what ``send`` publishes."""
    arrived = threading.Event()

    def on_message(raw: Any) -> None:
        listen.ack(raw.channel, raw.delivery_tag)
        arrived.set()

    listen.declare_consumer(QueueSpec(queue_name, durable=False, auto_delete=True),
                            on_message)
    send.publish(None, queue_name, {'id': 'after'})
    deadline = time.monotonic() + DELIVERY_BOUND
    while not arrived.is_set() and time.monotonic() < deadline:
        if listen.io_loop is None:
            listen.read(0.25)
        else:
            arrived.wait(0.25)
    assert arrived.is_set(), 'nothing arrived on %s after the load' % listen.name


def test_declares_cancels_publishes_acks_heartbeats_and_resets_at_once(
        rabbit_url, unique_name, broker_cleanup, caplog):
    urls = [_kombu_url(rabbit_url)]
    options = conf(**OPTIONS)
    shared = SharedConnection(options, urls)
    reply = SharedConnection(options, urls, io_thread=False)
    send = Connection(options, urls)
    prefix = unique_name('concurrency')
    hub_queues = [broker_cleanup.queue('%s.hub%d' % (prefix, index)) for index in (1, 2)]
    reply_queue = broker_cleanup.queue(prefix + '.reply')
    load, deliveries, tags = Load(), queue.Queue(), queue.Queue()
    declared, readers_done = threading.Event(), threading.Event()
    # In this order: each call sets the capturing handler's level too.
    caplog.set_level(logging.INFO, logger='messaging')
    caplog.set_level(logging.DEBUG, logger=HEARTBEAT_LOGGER)
    try:
        def on_hub(raw: Any) -> None:
            load.receive(shared, raw)
            deliveries.put(raw)

        def on_reply(raw: Any) -> None:
            load.receive(reply, raw)
            reply.ack(raw.channel, raw.delivery_tag)
            load.count('acks')

        for name in hub_queues:
            shared.declare_consumer(QueueSpec(name, durable=False, auto_delete=False), on_hub)
        reply.declare_consumer(QueueSpec(reply_queue, durable=False, auto_delete=False),
                               on_reply)
        producers = [load.spawn('publish-%s-%d' % (name, n), publish, load, send, name,
                                '%s-%d' % (name, n))
                     for name in hub_queues + [reply_queue]
                     for n in range(PUBLISHERS_PER_QUEUE)]
        producers += [load.spawn('declare', churn, load, shared, prefix, tags, declared),
                      # The churned consumers cancelled as they come, all at the end.
                      load.spawn('cancel', serve, load, tags, declared,
                                 lambda tag: shared.cancel_consumers([tag]), 'cancels')]
        # Deliveries the I/O thread read, acked on other threads.
        consumers = [load.spawn('ack-%d' % n, serve, load, deliveries, readers_done,
                                lambda raw: shared.ack(raw.channel, raw.delivery_tag), 'acks')
                     for n in range(ACKERS)]
        consumers.append(load.spawn('read', read, load, reply, readers_done))

        started = time.monotonic()
        load.stop.wait(LOAD_SECONDS / 3)
        close_connection(shared.name)  # the hub's connection, reset by the broker
        load.stop.wait(max(started + 2 * LOAD_SECONDS / 3 - time.monotonic(), 0))
        resets = 1 + close_our_connections()  # then all three
        load.stop.wait(max(started + LOAD_SECONDS - time.monotonic(), 0))
        load.stop.set()
        left = stuck(producers, JOIN_BOUND)
        assert left == [], 'deadlocked producers:\n' + '\n'.join(left)
        missing = load.missing(DELIVERY_BOUND)
        readers_done.set()
        left = stuck(consumers, JOIN_BOUND)
        assert left == [], 'deadlocked consumers:\n' + '\n'.join(left)
        elapsed = time.monotonic() - started

        assert load.errors == []
        assert missing == set(), '%d confirmed messages never arrived' % len(missing)
        assert load.receipts.keys() <= load.attempted
        # Each message arrived once, or else again as a redelivery (a
        # publish the retry path repeated across a reconnect may come twice).
        doubled = {msg_id: flags for msg_id, flags in load.receipts.items()
                   if flags.count(False) > 1 and msg_id not in load.republished}
        assert doubled == {}
        assert shared.consumers.tags == ['1', '2']  # every churned consumer cancelled
        ticks = sum(1 for r in caplog.records if r.name == HEARTBEAT_LOGGER
                    and r.getMessage().startswith('heartbeat_tick : for connection'))
        assert ticks >= 3 * LOAD_SECONDS  # 3 connections, 2 ticks a second each
        unexpected = [r.getMessage() for r in caplog.records
                      if r.name.startswith('messaging') and r.levelno >= logging.ERROR
                      and 'AMQP server' not in r.getMessage()]
        assert unexpected == []
        assert not [r for r in caplog.records if 'heartbeats missed' in r.getMessage()]

        round_trip(send, shared, broker_cleanup.queue(prefix + '.after-hub'))
        round_trip(send, reply, broker_cleanup.queue(prefix + '.after-reply'))
        print('\nconcurrency: %d threads for %.1f s, %d resets; %s; %d heartbeat ticks; '
              '%d redeliveries' % (
                  len(load.threads), elapsed, resets, dict(sorted(load.counts.items())), ticks,
                  sum(flags.count(True) for flags in load.receipts.values())))
    finally:
        load.stop.set()
        readers_done.set()
        closer = threading.Thread(target=lambda: [c.close() for c in (shared, reply, send)],
                                  daemon=True)
        closer.start()
        closer.join(JOIN_BOUND)
        assert not closer.is_alive(), 'closing the connections hung'
