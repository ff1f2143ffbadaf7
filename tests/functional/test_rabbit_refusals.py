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
from tests.functional.rabbit_helpers import (WAIT, Responder, awaiting, fails_at_once,
                                             hearing)
from tests.functional.test_rabbit_kolla import KOLLA

pytestmark = pytest.mark.timeout(90)

OTHER_ARGUMENTS = {'x-max-length': 7}
# Seconds a call of the load across a queue deletion waits for its reply.
LOAD_CALL_TIMEOUT = 5


def _call(driver, target, value, timeout=WAIT):
    return driver.send(target, {}, {'method': 'm', 'args': value}, wait_for_reply=True,
                       timeout=timeout)


def _records(caplog, level, words):
    return [r for r in caplog.records if r.levelname == level and words in r.getMessage()]


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
        with awaiting('ERROR', 'tries again in') as refused:
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
        with awaiting('INFO', 'is declared again, after 1 refusal(s)'):
            raw_channel.queue_delete(topic + '.srv')
        assert _call(driver, own, 3) == 3
    finally:
        responder.stop()


class _Returned(logging.Handler):
    """The threads the broker returned a request of (unroutable.py logs it
    at DEBUG on the sending thread), each with how many times."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.threads: dict[int, int] = {}

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith('The broker returned a '):
            self.threads[record.thread] = self.threads.get(record.thread, 0) + 1


class _Load:
    """Calls or casts from ``driver`` to ``target`` on a thread of its own,
    one after the other until stopped, each with a value of its own (``sent``);
    ``returned`` are those the broker returned at least once (no queue), and
    ``failed`` the calls that raised or answered another value."""

    def __init__(self, driver, target, kind: str, returns: _Returned) -> None:
        self._driver, self._target, self.kind = driver, target, kind
        self._returns = returns
        self.sent: list[str] = []
        self.returned: list[str] = []
        self.failed: list[tuple[str, object]] = []
        self._stop = threading.Event()
        self._progress = threading.Condition()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        me = threading.get_ident()
        while not self._stop.is_set():
            value = '%s-%d-%d' % (self.kind, id(self), len(self.sent))
            returns = self._returns.threads.get(me, 0)
            try:
                if self.kind == 'call':
                    answer = _call(self._driver, self._target, value, LOAD_CALL_TIMEOUT)
                else:
                    answer = self._driver.send(self._target, {},
                                               {'method': 'm', 'args': value})
            except Exception as ex:
                answer = ex
            if answer != (value if self.kind == 'call' else None):
                self.failed.append((value, answer))
            if self._returns.threads.get(me, 0) != returns:
                self.returned.append(value)
            with self._progress:
                self.sent.append(value)
                self._progress.notify_all()

    def wait_for(self, count: int) -> None:
        """Until ``count`` sends in all have ended."""
        with self._progress:
            assert self._progress.wait_for(lambda: len(self.sent) >= count, 2 * WAIT), \
                '%s load: %d sends within %s s, not %d' % (self.kind, len(self.sent),
                                                         2 * WAIT, count)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2 * WAIT)


@contextlib.contextmanager
def _returns_seen():
    """A ``_Returned`` hearing the rabbit driver's DEBUG records meanwhile."""
    with hearing('messaging.drivers.rabbit.unroutable', _Returned(), logging.DEBUG) as returns:
        yield returns


def test_a_fleet_changes_to_quorum_queues_one_server_at_a_time(
        rabbit_transport, rabbit_names, broker_cleanup, caplog):
    topic, exchange = rabbit_names
    broker_cleanup.queue(topic + '.old')
    broker_cleanup.queue(topic + '.new')
    shared = messaging.Target(topic=topic, exchange=exchange)
    classic_transport = rabbit_transport()
    classic = classic_transport._driver
    old = Responder(classic.listen(messaging.Target(topic=topic, server='old',
                                                    exchange=exchange), 1, None))
    assert queue_type(topic) == 'classic'
    quorum = rabbit_transport(rabbit_quorum_queue='true')._driver
    with caplog.at_level(logging.WARNING, logger='messaging.drivers.rabbit'):
        new = Responder(quorum.listen(messaging.Target(topic=topic, server='new',
                                                       exchange=exchange), 1, None))
    loads = []
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
        # The last old server stops; clients of both settings keep calling
        # and casting while the operator retires the old queue (unbound,
        # emptied by the new server, deleted) and the new server declares
        # it anew, as a quorum queue, and serves it.
        old.stop()
        with _returns_seen() as returns:
            loads = [_Load(driver, shared, kind, returns) for driver in (classic, quorum)
                     for kind in ('call', 'cast')]
            for load in loads:
                load.wait_for(20)
            # Its consumer cancelled, the new server declares the queue
            # again and consumes it on the same channel. Requests the broker
            # returns meanwhile (no queue bound) are published again until
            # it is there.
            retired = classic_transport.admin.retire_queue(topic, exchange, timeout=20)
            for load in loads:
                load.wait_for(len(load.sent) + 20)
                load.stop()
        casts = {value for load in loads if load.kind == 'cast' for value in load.sent}
        returned = {value for load in loads for value in load.returned}
        failed = [failure for load in loads for failure in load.failed]
        # No call failed, and every cast was served: those in the old queue
        # by the new server before it went, those returned meanwhile once
        # the new queue was there.
        assert failed == []
        new.wait_until(lambda received: casts <= {m.message['args'] for m in received})
        print('queue type change under load: %d calls, %d casts, none failed or lost; '
              '%d returned and published again; %d waiting in the old queue when it was '
              'unbound; emptied after %.3f s, deleted after %.3f s, declared again after '
              '%.3f s' % (sum(len(load.sent) for load in loads if load.kind == 'call'),
                          len(casts), len(returned), retired.backlog, retired.drained_after,
                          retired.deleted_after, retired.declared_again_after))
        assert retired.declared_again_after is not None
        assert queue_type(topic) == 'quorum'
        assert _call(quorum, shared, 'after') == 'after'
        assert len(_records(caplog, 'WARNING', 'consuming it as it is')) == 1
    finally:
        for load in loads:
            load.stop()
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
