"""Declarations the broker refuses for good, and a fleet changing queue type.

A refusal no retry mends (406 PRECONDITION_FAILED, 403, RabbitMQ 4's 541 for
a denied deprecated feature) ends a server start or a send at once, naming
the queue, its arguments, the broker's words and what to change; a running
server that meets one after a reconnect logs it and tries again with
backoff, so that an operator's fix is picked up. A server configured for
another queue type than the queue the broker has consumes that queue, says
so once, and moves to its own type once the old queue is gone.
"""
from __future__ import annotations

import contextlib
import logging
import threading

import pytest

import messaging
from messaging.drivers.rabbit.errors import DeclarationMismatch
from tests.functional.conftest import close_connection, queue_type
from tests.functional.rabbit_helpers import WAIT, Responder, fails_at_once
from tests.functional.test_rabbit_kolla import KOLLA

pytestmark = pytest.mark.timeout(90)

OTHER_ARGUMENTS = {'x-max-length': 7}


def _call(driver, target, value, timeout=WAIT):
    return driver.send(target, {}, {'method': 'm', 'args': value}, wait_for_reply=True,
                       timeout=timeout)


def _records(caplog, level, words):
    return [r for r in caplog.records if r.levelname == level and words in r.getMessage()]


class _Awaited(logging.Handler):
    """Lets a test wait for a log record of ``level`` with ``words`` in it."""

    def __init__(self, level: str, words: str) -> None:
        super().__init__()
        self.level_name, self.words = level, words
        self.seen = threading.Event()
        self.message = ''

    def emit(self, record: logging.LogRecord) -> None:
        if (not self.seen.is_set() and record.levelname == self.level_name
                and self.words in record.getMessage()):
            self.message = record.getMessage()
            self.seen.set()


@contextlib.contextmanager
def _awaiting(level: str, words: str):
    handler = _Awaited(level, words)
    logger = logging.getLogger('messaging.drivers.rabbit')
    was = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield handler
        assert handler.seen.wait(WAIT), 'not logged within %s s: %s' % (WAIT, words)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(was)


def test_a_server_start_refused_fails_at_once_naming_the_queue_and_the_fix(
        rabbit_transport, rabbit_names, raw_channel):
    topic, exchange = rabbit_names
    raw_channel.queue_declare(topic + '.srv', durable=False, auto_delete=False,
                              arguments=OTHER_ARGUMENTS)
    driver = rabbit_transport()._driver
    error = fails_at_once(driver.listen, messaging.Target(topic=topic, server='srv',
                                                          exchange=exchange), 1, None)
    assert isinstance(error, DeclarationMismatch)
    for part in ('declare queue %s.srv (durable False, auto-delete False, arguments {})'
                 % topic, "inequivalent arg 'x-max-length'", 'vhost /',
                 'rabbitmqctl list_queues'):
        assert part in str(error)


def test_a_notification_refused_fails_at_once_naming_the_queue(
        rabbit_transport, rabbit_names, raw_channel):
    topic, exchange = rabbit_names
    raw_channel.queue_declare(topic + '.info', durable=False, auto_delete=False,
                              arguments=OTHER_ARGUMENTS)
    driver = rabbit_transport()._driver
    error = fails_at_once(driver.send_notification,
                          messaging.Target(topic=topic + '.info', exchange=exchange), {},
                          {'event_type': 'e', 'payload': {}}, 2.0, retry=None)
    assert isinstance(error, DeclarationMismatch)
    assert 'declare queue %s.info' % topic in str(error)


def test_a_running_server_refused_after_a_reconnect_says_so_and_recovers_once_fixed(
        rabbit_transport, rabbit_names, raw_channel):
    topic, exchange = rabbit_names
    driver = rabbit_transport()._driver
    own = messaging.Target(topic=topic, server='srv', exchange=exchange)
    shared = messaging.Target(topic=topic, exchange=exchange)
    responder = Responder(driver.listen(own, 1, None))
    try:
        assert _call(driver, own, 1) == 1
        # The broker closes the server's connection: it reconnects after
        # kombu_reconnect_delay (1 s). Meanwhile its queue is deleted and
        # declared again with other arguments, which its replay then meets.
        with _awaiting('ERROR', 'tries again in') as refused:
            close_connection(responder.listener.connection.name)
            raw_channel.queue_delete(topic + '.srv')
            raw_channel.queue_declare(topic + '.srv', durable=False, auto_delete=False,
                                      arguments=OTHER_ARGUMENTS)
        for part in ('declare queue %s.srv' % topic, "inequivalent arg 'x-max-length'",
                     'the other consumers of the connection go on'):
            assert part in refused.message
        # The server's other queues are consumed again meanwhile.
        assert _call(driver, shared, 2) == 2
        # The operator's fix: the queue deleted, the server declares it on
        # its next try, as configured (a request sent before would find no
        # queue).
        with _awaiting('INFO', 'is declared again, after 1 refusal(s)'):
            raw_channel.queue_delete(topic + '.srv')
        assert _call(driver, own, 3) == 3
    finally:
        responder.stop()


def test_a_fleet_changes_to_quorum_queues_one_server_at_a_time(
        rabbit_transport, rabbit_names, raw_channel, broker_cleanup, caplog):
    topic, exchange = rabbit_names
    broker_cleanup.queue(topic + '.old')
    broker_cleanup.queue(topic + '.new')
    shared = messaging.Target(topic=topic, exchange=exchange)
    classic = rabbit_transport()._driver
    old = Responder(classic.listen(messaging.Target(topic=topic, server='old',
                                                    exchange=exchange), 1, None))
    assert queue_type(topic) == 'classic'
    quorum = rabbit_transport(rabbit_quorum_queue='true')._driver
    with caplog.at_level(logging.WARNING, logger='messaging.drivers.rabbit'):
        new = Responder(quorum.listen(messaging.Target(topic=topic, server='new',
                                                       exchange=exchange), 1, None))
    try:
        as_is = _records(caplog, 'WARNING', 'consuming it as it is')
        assert len(as_is) == 1 and topic in as_is[0].getMessage()
        # Both servers take calls from the one classic queue; the new
        # server's own queue, which did not exist, is a quorum queue.
        assert queue_type(topic) == 'classic'
        assert queue_type(topic + '.new') == 'quorum'
        for value in range(6):
            assert _call(classic, shared, value) == value
            assert _call(quorum, shared, value) == value
        new.wait_until(lambda received: len(received) >= 1)
        old.wait_until(lambda received: len(received) >= 1)
        # The last old server stops; the operator deletes the old queue; the
        # new server declares it anew, as a quorum queue, and serves it.
        old.stop()
        # Its consumer cancelled, the new server reconnects once it has
        # declared the queue again.
        with _awaiting('INFO', 'Reconnected to AMQP server'):
            raw_channel.queue_delete(topic)
        assert queue_type(topic) == 'quorum'
        assert _call(quorum, shared, 'after') == 'after'
        assert len(_records(caplog, 'WARNING', 'consuming it as it is')) == 1
    finally:
        new.stop()


def test_a_fleet_changes_to_the_kolla_configuration_one_server_at_a_time(
        rabbit_transport, rabbit_names, broker_cleanup, host, caplog):
    """Classic servers and servers switched to quorum queues and stream
    fanout (Kolla-Ansible's configuration) share a topic: each fanout
    reaches every server once, whichever side sends it, and calls are served."""
    topic, exchange = rabbit_names
    for queue in (topic + '.old', topic + '.new', topic + '_fanout'):
        broker_cleanup.queue(queue)
    classic = rabbit_transport()._driver
    old = Responder(classic.listen(messaging.Target(topic=topic, server='old',
                                                    exchange=exchange), 1, None))
    kolla = rabbit_transport(hostname=host, **KOLLA)._driver
    with caplog.at_level(logging.WARNING, logger='messaging.drivers.rabbit'):
        new = Responder(kolla.listen(messaging.Target(topic=topic, server='new',
                                                      exchange=exchange), 1, None))
    try:
        assert queue_type(topic + '_fanout') == 'stream'
        fanout = messaging.Target(topic=topic, exchange=exchange, fanout=True)
        for sender, marker in ((classic, 'from-classic'), (kolla, 'from-kolla')):
            sender.send(fanout, {}, {'method': 'fan', 'args': marker})
        for server in (old, new):
            server.wait_until(lambda received: sorted(
                m.message['args'] for m in received if m.message['method'] == 'fan')
                == ['from-classic', 'from-kolla'])
        shared = messaging.Target(topic=topic, exchange=exchange)
        for value in range(4):
            assert _call(classic, shared, value) == value
            assert _call(kolla, shared, value) == value
    finally:
        new.stop()
        old.stop()
    # Each fanout came once to each server, none twice.
    for server in (old, new):
        fans = [m.message['args'] for m in server.received if m.message['method'] == 'fan']
        assert sorted(fans) == ['from-classic', 'from-kolla']
