"""Broker faults: refused credentials, dead hosts, retries, idle connections."""
from __future__ import annotations

import logging
import time

import amqp
import pytest

import messaging
from messaging.drivers.rabbit.errors import AuthenticationFailure, DeclarationMismatch
from tests.functional.conftest import close_our_connections
from tests.functional.rabbit_helpers import (FAST_RECONNECT, FAST_RECONNECT_QUERY, WAIT,
                                             Responder)

pytestmark = pytest.mark.timeout(60)
def test_wrong_password_fails_fast_without_showing_it(rabbit_transport, rabbit_url,
                                                      rabbit_names):
    topic, exchange = rabbit_names
    host = rabbit_url.split('@', 1)[1]
    driver = rabbit_transport('rabbit://guest:s3cr3t-wrong@' + host)._driver
    started = time.monotonic()
    with pytest.raises(AuthenticationFailure) as failure:
        driver.send(messaging.Target(topic=topic, exchange=exchange), {},
                    {'method': 'm', 'args': {}})
    assert time.monotonic() - started < 5
    assert 'ACCESS_REFUSED' in str(failure.value)
    assert 's3cr3t' not in str(failure.value)


def test_send_gives_up_after_its_retries_without_showing_the_password(
        rabbit_transport, rabbit_names, caplog):
    topic, exchange = rabbit_names
    driver = rabbit_transport('rabbit://guest:pw-hidden@127.0.0.1:1/?' + FAST_RECONNECT_QUERY
                              )._driver
    with caplog.at_level(logging.WARNING):
        with pytest.raises(messaging.MessageDeliveryFailure, match='after 3 attempt'):
            driver.send(messaging.Target(topic=topic, exchange=exchange), {},
                        {'method': 'm', 'args': {}}, retry=2)
    assert len([r for r in caplog.records if hasattr(r, 'next_broker')]) == 2
    assert all('pw-hidden' not in r.getMessage() for r in caplog.records)


def test_a_dead_host_in_the_url_is_failed_over(rabbit_transport, rabbit_url, rabbit_names):
    topic, exchange = rabbit_names
    live = rabbit_url.split('://', 1)[1].rstrip('/')
    driver = rabbit_transport('rabbit://guest:guest@127.0.0.1:1,%s/?%s'
                              % (live, FAST_RECONNECT_QUERY))._driver
    target = messaging.Target(topic=topic, server='srv', exchange=exchange)
    server = Responder(driver.listen(target, 1, None))
    try:
        for value in range(3):
            assert driver.send(target, {}, {'method': 'm', 'args': {'v': value}},
                               wait_for_reply=True, timeout=WAIT) == {'v': value}
    finally:
        server.stop()


def test_heartbeats_keep_idle_connections_open(rabbit_transport, rabbit_names, caplog):
    topic, exchange = rabbit_names
    driver = rabbit_transport(heartbeat_timeout_threshold=1, heartbeat_rate=2)._driver
    target = messaging.Target(topic=topic, server='srv', exchange=exchange)
    server = Responder(driver.listen(target, 1, None))
    try:
        with caplog.at_level(logging.WARNING, logger='messaging.drivers.rabbit'):
            driver.send(target, {}, {'method': 'm', 'args': {}}, wait_for_reply=True,
                        timeout=WAIT)
            # Stay idle for several heartbeat intervals: without heartbeats
            # the broker closes the connections after two.
            time.sleep(4)
            driver.send(target, {}, {'method': 'm', 'args': {}}, wait_for_reply=True,
                        timeout=WAIT)
    finally:
        server.stop()
    assert [r.getMessage() for r in caplog.records] == []


def test_server_recovers_when_its_queue_is_deleted_under_it(
        rabbit_transport, rabbit_names, raw_channel):
    topic, exchange = rabbit_names
    driver = rabbit_transport(**FAST_RECONNECT)._driver
    target = messaging.Target(topic=topic, server='srv', exchange=exchange)
    server = Responder(driver.listen(target, 1, None))
    try:
        # The broker cancels the consumer (basic.cancel); the listener must
        # reconnect and declare the queue again.
        raw_channel.queue_delete(topic)
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            try:
                if raw_channel.queue_declare(topic, passive=True).consumer_count:
                    break
            except Exception:
                raw_channel = raw_channel.connection.channel()
            time.sleep(0.05)
        assert driver.send(target(server=None), {}, {'method': 'm', 'args': {'v': 1}},
                           wait_for_reply=True, timeout=WAIT) == {'v': 1}
    finally:
        server.stop()


def test_a_queue_declared_with_other_flags_is_a_clear_error(rabbit_transport, rabbit_names,
                                                            raw_channel):
    topic, exchange = rabbit_names
    raw_channel.queue_declare(topic, durable=False, auto_delete=False,
                              arguments={'x-message-ttl': 1000})
    driver = rabbit_transport(rabbit_retry_interval=0.05)._driver
    with pytest.raises(DeclarationMismatch, match='same \\[oslo_messaging_rabbit\\]'):
        driver.listen(messaging.Target(topic=topic, server='srv', exchange=exchange), 1,
                      None)


def test_check_queue_declares_again_a_consumed_queue_lost_behind_our_back(
        rabbit_transport, rabbit_names, raw_channel, caplog):
    topic, _exchange = rabbit_names
    driver = rabbit_transport(**FAST_RECONNECT)._driver
    spec = driver._declarations.reply_queue(topic)
    connection = driver._make_connection(listening=True, io_thread=False)
    try:
        connection.declare_consumer(spec, lambda raw: None)
        raw_channel.queue_delete(spec.name)
        with caplog.at_level(logging.INFO, logger='messaging.drivers.rabbit'):
            connection.check_queue(spec.name)
        assert raw_channel.queue_declare(spec.name, passive=True).consumer_count == 1
        assert any('Reconnected to AMQP server' in r.getMessage()
                   and getattr(r, 'operation', None) == 'check that queue %s exists' % spec.name
                   for r in caplog.records)
    finally:
        connection.close()


def test_check_queue_of_a_queue_that_is_there_changes_nothing(
        rabbit_transport, rabbit_names, raw_channel, caplog):
    topic, _exchange = rabbit_names
    driver = rabbit_transport()._driver
    spec = driver._declarations.reply_queue(topic)
    connection = driver._make_connection(listening=True, io_thread=False)
    try:
        connection.declare_consumer(spec, lambda raw: None)
        channel = connection.channel
        with caplog.at_level(logging.WARNING, logger='messaging.drivers.rabbit'):
            connection.check_queue(spec.name)
        assert connection.channel is channel
        assert caplog.records == []
    finally:
        connection.close()


def _consumers_of(channel, queue_name):
    """The consumer count of ``queue_name``, or None while it does not exist."""
    try:
        return channel.queue_declare(queue_name, passive=True).consumer_count
    except amqp.exceptions.NotFound:
        return None


def test_a_queue_lost_without_a_cancel_after_a_reconnect_is_declared_again(
        rabbit_transport, rabbit_names, raw_channel, monkeypatch):
    """While a cluster node stops, a queue declared again elsewhere can
    vanish without the broker cancelling our consumer. Here the client
    ignores the broker's cancel instead; the listener's checks after its
    reconnect must still find the queue gone and declare it again."""
    topic, exchange = rabbit_names
    driver = rabbit_transport(**FAST_RECONNECT)._driver
    target = messaging.Target(topic=topic, server='srv', exchange=exchange)
    server = Responder(driver.listen(target, 1, None))
    server_queue = topic + '.srv'
    try:
        monkeypatch.setattr(amqp.Channel, '_on_basic_cancel', lambda self, tag: None)
        assert close_our_connections() >= 1
        deadline = time.monotonic() + WAIT
        while _consumers_of(raw_channel, server_queue) != 1:
            assert time.monotonic() < deadline, 'the listener did not reconnect'
            raw_channel = raw_channel.connection.channel()
            time.sleep(0.05)
        raw_channel.queue_delete(server_queue)
        deadline = time.monotonic() + 15
        while _consumers_of(raw_channel, server_queue) != 1:
            assert time.monotonic() < deadline, 'the lost queue was not declared again'
            raw_channel = raw_channel.connection.channel()
            time.sleep(0.05)
        assert driver.send(target, {}, {'method': 'm', 'args': {'v': 1}},
                           wait_for_reply=True, timeout=WAIT) == {'v': 1}
    finally:
        server.stop()
