"""The reader's step on its own (a link over a fake kombu connection): it
waits out the backoff without connecting, reconnects when the try is due,
and makes its thread the reader only while it reads."""
from __future__ import annotations

import threading
import time

import pytest

from messaging.drivers.rabbit.consumer_set import ConsumerSet
from messaging.drivers.rabbit.heartbeat import heartbeat_of
from messaging.drivers.rabbit.io_turns import IoTurns
from messaging.drivers.rabbit.reader import Reader
from tests.unit.rabbit_fakes import conf, linked

WAIT = 5.0


@pytest.fixture
def parts():
    turns = IoTurns()
    link, _kombu = linked(turns=turns)
    options = conf()
    reader = Reader(link, ConsumerSet(link, options), heartbeat_of(link, options, False), turns)
    yield link, reader, turns
    link.close()
    turns.close()


def _fail(channel):
    raise ConnectionResetError('down')


def test_a_step_while_down_waits_for_the_try_and_does_not_connect_before(parts):
    link, reader, _turns = parts
    link.ensure(_fail, what='consume', background=True)
    retry_at = link.retry_at
    assert retry_at is not None
    with reader.reading():
        reader.step(0.0)
    assert link.channel is None
    with reader.reading():
        while link.channel is None and time.monotonic() < retry_at + WAIT:
            reader.step(WAIT)
    assert link.channel is not None and link.retry_at is None
    assert time.monotonic() >= retry_at


def test_only_the_reader_uses_the_link_without_a_turn(parts):
    link, reader, turns = parts
    seen = {}

    def note(key):
        return lambda channel: seen.setdefault(key, turns.wanted)

    with reader.reading():
        link.ensure(note('reader'))
        # Another thread, meanwhile, takes a turn.
        other = threading.Thread(target=link.ensure, args=(note('other'),))
        other.start()
        other.join(WAIT)
    link.ensure(note('after'))
    assert seen == {'reader': False, 'other': True, 'after': True}


def test_a_step_whose_channel_another_thread_closed_meanwhile_ends_quietly(parts):
    link, reader, _turns = parts
    link.ensure(lambda channel: None)
    # Closed by another thread's reset after the step looked at the link:
    # py-amqp's closed channel has no connection.
    link.channel.connection = None
    with reader.reading():
        reader.step(0.0)
