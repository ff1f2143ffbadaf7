"""The configuration Kolla-Ansible deploys: quorum queues, stream fanout and
the queue manager, on the real broker."""
from __future__ import annotations

import logging
import sys
import time

import pytest

import messaging
from tests.functional.conftest import close_connection, queue_column
from tests.functional.rabbit_helpers import (FAST_RECONNECT_QUERY, WAIT, Responder,
                                             publish_raw, queues_of, run_service)

pytestmark = pytest.mark.timeout(120)

KOLLA = dict(rabbit_quorum_queue='true', rabbit_transient_quorum_queue='true',
             rabbit_stream_fanout='true', use_queue_manager='true',
             rabbit_qos_prefetch_count=1)


@pytest.fixture
def kolla_driver(rabbit_transport, rabbit_url, host):
    url = rabbit_url + ('&' if '?' in rabbit_url else '?') + FAST_RECONNECT_QUERY
    return rabbit_transport(url, hostname=host, **KOLLA)._driver


def fanout(driver, topic, marker):
    driver.send(messaging.Target(topic=topic, fanout=True), {},
                {'method': 'm', 'args': {'marker': marker}})


def markers(server):
    return [incoming.message['args']['marker'] for incoming in list(server.received)]


def stream_arguments(name: str) -> str:
    return queue_column(name, 'arguments')


def listen(driver, names, server):
    topic, exchange = names
    return Responder(driver.listen(messaging.Target(topic=topic, server=server,
                                                    exchange=exchange), 1, None))


def arrived(marker):
    return lambda received: marker in [m.message['args']['marker'] for m in received]


def test_a_server_reconnecting_mid_stream_gets_every_later_fanout_once(
        kolla_driver, rabbit_names, broker_cleanup, caplog):
    """Three servers read the topic's stream; two join after fanouts were
    sent and never see those; one has its connection closed by the broker
    in the middle of the fanouts and still gets each later one, once."""
    topic, _exchange = rabbit_names
    broker_cleanup.queue(topic + '_fanout')
    for name in ('early', 'late', 'dropped'):
        broker_cleanup.queue('%s.%s' % (topic, name))
    early = listen(kolla_driver, rabbit_names, 'early')
    servers = [early]
    try:
        before = ['before-%d' % n for n in range(5)]
        for marker in before:
            fanout(kolla_driver, topic, marker)
        early.wait_until(arrived(before[-1]))
        late = listen(kolla_driver, rabbit_names, 'late')
        dropped = listen(kolla_driver, rabbit_names, 'dropped')
        servers += [late, dropped]
        assert stream_arguments(topic + '_fanout') == (
            '[{"x-queue-type","stream"},{"x-max-age","1800s"}]')
        after = ['after-%d' % n for n in range(30)] + ['end']
        with caplog.at_level(logging.INFO, logger='messaging'):
            for marker in after[:10]:
                fanout(kolla_driver, topic, marker)
            dropped.wait_until(arrived(after[9]))
            close_connection(dropped.listener.connection.name)
            for marker in after[10:]:
                fanout(kolla_driver, topic, marker)
            for server in servers:
                server.wait_until(arrived('end'))
        # The stream is read in order: a fanout read again after the
        # reconnect would have come before "end".
        assert markers(early) == before + after
        assert markers(late) == after
        assert markers(dropped) == after
        # Nor was a second reading hidden by the duplicate filter.
        assert not [r for r in caplog.records if 'duplicate' in r.getMessage()]
        resumed = [r.getMessage() for r in caplog.records
                   if r.getMessage().startswith('Consuming stream %s_fanout' % topic)]
        assert any(not text.endswith('offset next') for text in resumed), resumed
    finally:
        for server in servers:
            server.stop()


def test_a_deleted_stream_is_declared_again_and_read_from_its_tail(
        kolla_driver, rabbit_names, broker_cleanup, raw_channel):
    topic, _exchange = rabbit_names
    broker_cleanup.queue(topic + '_fanout')
    broker_cleanup.queue(topic + '.srv')
    server = listen(kolla_driver, rabbit_names, 'srv')
    try:
        fanout(kolla_driver, topic, 'first')
        server.wait_until(arrived('first'))
        raw_channel.queue_delete(topic + '_fanout')
        # Until the server has declared the stream again a fanout finds no
        # queue bound and is dropped: send until one arrives.
        deadline = time.monotonic() + WAIT
        sent = 0
        while len(server.received) < 2:
            assert time.monotonic() < deadline, markers(server)
            fanout(kolla_driver, topic, 'again-%d' % sent)
            sent += 1
            try:
                server.wait_until(lambda received: len(received) >= 2, timeout=0.5)
            except AssertionError:
                continue
        fanout(kolla_driver, topic, 'end')
        server.wait_until(arrived('end'))
        got = markers(server)
        assert got[0] == 'first' and got[1].startswith('again-') and got[-1] == 'end'
        assert len(got) == len(set(got))
        assert stream_arguments(topic + '_fanout').startswith('[{"x-queue-type","stream"}')
    finally:
        server.stop()


@pytest.mark.parametrize('stream', [False, True], ids=['queue manager', 'kolla'])
def test_a_restarted_service_takes_up_its_reply_and_fanout_queue_names(
        stream, rabbit_url, host, rabbit_names, broker_cleanup):
    topic, _exchange = rabbit_names
    options = dict(KOLLA, use_queue_manager='true', hostname=host, processname='svc')
    if not stream:
        for key in ('rabbit_quorum_queue', 'rabbit_transient_quorum_queue',
                    'rabbit_stream_fanout'):
            options.pop(key)
    url = rabbit_url + ('&' if '?' in rabbit_url else '?') + '&'.join(
        '%s=%s' % item for item in sorted(options.items()))
    for name in (topic, topic + '.s1', topic + '_fanout'):
        broker_cleanup.queue(name)
    broker_cleanup.exchange(topic + '_fanout')
    run_service(sys.executable, 'messaging', url, rabbit_names, True)
    first = queues_of(host, topic)
    for name in first:
        broker_cleanup.queue(name)
    if stream:
        # The stream takes no queue manager name: the reply queue is the first.
        assert first == {'reply_%s:svc:1' % host, topic + '_fanout'}
    else:
        # Named in the order oslo.messaging names them: the server's fanout
        # queue at listen, the reply queue at the first call.
        assert first == {'reply_%s:svc:2' % host, '%s_fanout_%s:svc:1' % (topic, host)}
    # A restart is a new process group: the counter starts over.
    run_service(sys.executable, 'messaging', url, rabbit_names, True)
    assert queues_of(host, topic) == first


def test_a_malformed_fanout_on_the_stream_is_skipped_on_the_same_connection(
        kolla_driver, rabbit_names, broker_cleanup, raw_channel, caplog):
    """A stream refuses basic.reject by closing the connection: the server
    acks the bad delivery instead, logs it and goes on reading."""
    topic, _exchange = rabbit_names
    broker_cleanup.queue(topic + '_fanout')
    server = listen(kolla_driver, rabbit_names, 'srv')
    try:
        with caplog.at_level(logging.WARNING, logger='messaging'):
            publish_raw(raw_channel, topic + '_fanout', topic, b'{not json')
            fanout(kolla_driver, topic, 'good')
            server.wait_until(arrived('good'))
        assert markers(server) == ['good']
        assert [r for r in caplog.records if 'Rejecting malformed' in r.getMessage()]
        assert not [r for r in caplog.records if hasattr(r, 'next_broker')]
    finally:
        server.stop()
