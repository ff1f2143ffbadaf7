"""A call or cast published while its topic has no queue is published again
for a while (unroutable.py), so that one sent while a server declares the
queue (a queue deleted to change its type) is served; a cast to a topic no
server ever serves is dropped after its window, with one WARNING, and the
next cast to it at once."""
from __future__ import annotations

import logging
import threading
import time

import pytest

import messaging
from messaging.drivers.rabbit import unroutable
from tests.functional.rabbit_helpers import WAIT, Responder, awaiting, catch

pytestmark = pytest.mark.timeout(60)


def _send(driver, target, value, call):
    return driver.send(target, {}, {'method': 'm', 'args': value}, wait_for_reply=call,
                       timeout=WAIT if call else None)


def _sent_before_the_queue(driver, topic, exchange, kind):
    """Send ``kind`` to ``topic`` in a thread; once the broker returned it,
    start a server of the topic. What the send returned, and the server."""
    target = messaging.Target(topic=topic, exchange=exchange)
    outcome = {}
    sender = threading.Thread(target=lambda: outcome.update(
        sent=catch(_send, driver, target, 'early', kind == 'call')))
    with awaiting('DEBUG', 'returned a %s to %s/%s' % (kind, exchange, topic)):
        sender.start()
    server = Responder(driver.listen(messaging.Target(topic=topic, server='srv',
                                                      exchange=exchange), 1, None))
    sender.join(WAIT)
    assert not sender.is_alive()
    return outcome['sent'], server


@pytest.mark.parametrize('kind', ['call', 'cast'])
def test_a_request_sent_before_its_queue_exists_is_served_once_a_server_declares_it(
        rabbit_transport, rabbit_names, kind):
    topic, exchange = rabbit_names
    driver = rabbit_transport()._driver
    sent, server = _sent_before_the_queue(driver, topic, exchange, kind)
    try:
        assert sent == ('early' if kind == 'call' else None)
        [received] = server.wait_for(1)
        assert received.message['args'] == 'early'
        assert (received.msg_id is not None) == (kind == 'call')
    finally:
        server.stop()


def test_a_cast_to_a_topic_nobody_serves_is_dropped_after_its_window_then_at_once(
        rabbit_transport, rabbit_names, caplog):
    topic, exchange = rabbit_names
    driver = rabbit_transport()._driver
    target = messaging.Target(topic=topic, exchange=exchange)
    with caplog.at_level(logging.WARNING, logger='messaging.drivers.rabbit'):
        started = time.monotonic()
        assert _send(driver, target, 1, call=False) is None
        first = time.monotonic() - started
        started = time.monotonic()
        assert _send(driver, target, 2, call=False) is None
        second = time.monotonic() - started
    assert unroutable.CAST_WINDOW <= first < unroutable.CAST_WINDOW + 1
    assert second < 0.5
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.getMessage().startswith(
        'No server queue exists for routing key %s on exchange %s: a cast to it was '
        'dropped' % (topic, exchange))
    # A server comes: casts reach it at once, though the key is remembered.
    server = Responder(driver.listen(messaging.Target(topic=topic, server='srv',
                                                      exchange=exchange), 1, None))
    try:
        _send(driver, target, 3, call=False)
        assert [m.message['args'] for m in server.wait_for(1)] == [3]
    finally:
        server.stop()


def test_a_fanout_cast_with_no_queue_returns_at_once(rabbit_transport, rabbit_names):
    topic, exchange = rabbit_names
    driver = rabbit_transport()._driver
    started = time.monotonic()
    _send(driver, messaging.Target(topic=topic, exchange=exchange, fanout=True), 1,
          call=False)
    assert time.monotonic() - started < 0.5
