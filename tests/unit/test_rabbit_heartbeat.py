"""The one heartbeat policy (``Heartbeat.tick``), ticked by a caller's loop
or by its own thread, on a link over a fake kombu connection."""
from __future__ import annotations

import logging
import threading
import time

import pytest

from messaging.drivers.rabbit import heartbeat
from messaging.drivers.rabbit.heartbeat import Heartbeat
from tests.unit.rabbit_fakes import linked

WAIT = 5.0


@pytest.fixture
def link(fake_link):
    return fake_link


def test_a_tick_sends_only_when_due(link):
    beat = Heartbeat(link, threshold=60, rate=2)
    assert beat.interval == 15.0
    link.ensure(lambda channel: None)
    connection = link.channel.connection
    assert beat.tick() and connection.heartbeats == 1
    assert beat.tick() and connection.heartbeats == 1
    assert 14 < beat.next_due - time.monotonic() <= 15


def test_a_failed_tick_says_so_in_oslos_words_and_breaks_the_link(link, caplog):
    beat = Heartbeat(link, threshold=60, rate=2)
    link.ensure(lambda channel: None)

    def missed():
        raise ConnectionError('Too many heartbeats missed')

    link.channel.connection.on_heartbeat = missed
    with caplog.at_level(logging.INFO, logger=heartbeat.__name__):
        assert beat.tick() is False
    assert not link.usable
    [record] = caplog.records
    assert record.getMessage() == ('A recoverable connection/channel error occurred, '
                                   'trying to reconnect: Too many heartbeats missed')
    assert record.connection_name == link.name


def test_nothing_is_sent_while_the_link_is_down_or_heartbeats_are_off(link):
    assert Heartbeat(link, threshold=60, rate=2).tick()  # no channel yet: nothing to do
    off = Heartbeat(link, threshold=0, rate=2, own_thread=True)
    link.ensure(lambda channel: None)
    assert off.next_due == float('inf') and off.tick()
    assert link.channel.connection.heartbeats == 0
    assert not [t for t in threading.enumerate() if t.name.startswith('rabbit-heartbeat-')
                and link.name in t.name]


def test_its_own_thread_starts_at_the_first_connect_and_ends_at_close():
    link, _kombu = linked()
    beat = Heartbeat(link, threshold=0.2, rate=2, own_thread=True)
    name = 'rabbit-heartbeat-%s' % link.name
    assert name not in {t.name for t in threading.enumerate()}
    link.ensure(lambda channel: None)
    sent = threading.Event()
    link.channel.connection.on_heartbeat = sent.set
    assert sent.wait(WAIT)
    [thread] = [t for t in threading.enumerate() if t.name == name]
    link.mark_broken()
    link.ensure(lambda channel: None)  # a reconnect starts no second thread
    assert [t for t in threading.enumerate() if t.name == name] == [thread]
    link.close()
    beat.join(WAIT)
    assert not thread.is_alive()


def test_its_own_thread_reads_only_when_nobody_else_does():
    link, _kombu = linked()
    Heartbeat(link, threshold=0.2, rate=2, own_thread=True)
    inside, leave = threading.Event(), threading.Event()

    def read(channel):
        inside.set()
        leave.wait(WAIT)

    try:
        link.ensure(lambda channel: None)
        connection = link.channel.connection
        reader = threading.Thread(target=link.ensure, args=(read,),
                                  kwargs={'writes': False})
        reader.start()
        assert inside.wait(WAIT)
        beats, three = [], threading.Event()

        def beat():
            beats.append(connection.reads)
            if len(beats) >= 3:
                three.set()

        connection.on_heartbeat = beat
        assert three.wait(WAIT)
        leave.set()
        reader.join(WAIT)
        # Heartbeats went on while another thread held the read lock, and
        # the heartbeat thread read nothing meanwhile.
        assert len(beats) >= 3 and beats[-1] == beats[0]
    finally:
        link.close()
