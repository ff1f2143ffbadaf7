"""Faults that make a library log, run under whichever ``oslo_messaging`` the
interpreter has: oslo.messaging 18.3.1, or ``messaging`` installed in place.

``python log_scenarios.py <scenario> <broker url> <name prefix>`` runs one
scenario and prints one JSON line: ``{"records": [[logger, level, message],
...], "observed": {...}}``: the records of oslo.messaging's loggers
(``oslo_messaging.*`` and ``oslo.messaging.*``) at INFO and above, in order,
and what the scenario's calls returned or raised.
Both runs of a scenario are compared by tests/inplace/test_inplace_logs.py;
``cleanup`` in the output lists the reply queues to delete afterwards.

Every wait here is for an event (a record, a delivery, a call's end), bounded
by ``WAIT``; the broker names are the prefix's, deleted at the end.
"""
from __future__ import annotations

import json
import logging
import socket
import sys
import threading
import uuid
from pathlib import Path

import kombu

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'faults'))
from tcp_proxy import TcpProxy  # noqa: E402

import oslo_messaging as om  # noqa: E402
from oslo_config import cfg  # noqa: E402

WAIT = 30
LOGGER_PREFIXES = ('oslo_messaging.', 'oslo.messaging.')
BROKER_PORT = 5672
# Quick retries, so that a scenario takes seconds (the option minimums).
FAST = 'kombu_reconnect_delay=0.1&rabbit_retry_interval=1&rabbit_retry_backoff=0'


class Records(logging.Handler):
    """The records of oslo.messaging's loggers, awaited by predicate: its
    modules that log through oslo.log are named ``oslo.messaging.*``."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.seen: list[list[str]] = []
        self._cond = threading.Condition()

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith(LOGGER_PREFIXES):
            return
        with self._cond:
            self.seen.append([record.name, record.levelname, record.getMessage()])
            self._cond.notify_all()

    def wait_for(self, level: str, text: str) -> None:
        """Until a record at ``level`` containing ``text`` has been logged."""
        def found() -> bool:
            return any(lvl == level and text in msg for _, lvl, msg in self.seen)
        with self._cond:
            if not self._cond.wait_for(found, WAIT):
                raise AssertionError('no %s record with %r within %s s; got %r'
                                     % (level, text, WAIT, self.seen))


RECORDS = Records()
logging.getLogger().addHandler(RECORDS)
logging.getLogger().setLevel(logging.INFO)


def outcome(fn, *args, **kwargs) -> dict:
    try:
        return {'returned': fn(*args, **kwargs)}
    except Exception as ex:  # the exception is the observation
        return {'raised': type(ex).__name__, 'message': str(ex)}


def free_port() -> int:
    """A loopback port nothing listens on (for now)."""
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def url_on(url: str, port: int, query: str = FAST) -> str:
    """``url`` with the broker's port replaced by ``port`` and ``query`` added."""
    head, _, tail = url.rpartition(':%d/' % BROKER_PORT)
    return '%s:%d/%s%s%s' % (head, port, tail, '&' if '?' in tail else '?', query)


def conf() -> cfg.ConfigOpts:
    """The global options (a scenario has its process to itself): oslo's
    RPC client reads tracing options it registers only there."""
    cfg.CONF([])
    return cfg.CONF


class Calls:
    """An RPC endpoint whose behaviour the scenario picks by method."""

    def __init__(self) -> None:
        self.served = threading.Event()

    def echo(self, ctxt, value):
        self.served.set()
        return value

    def fail(self, ctxt):
        raise ValueError('the endpoint failed on purpose')


class Notes:
    """A notification endpoint: ``info`` fails, ``warn`` requeues once."""

    def __init__(self) -> None:
        self.handled = threading.Event()
        self.warned = 0

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        raise ValueError('the notification endpoint failed on purpose')

    def warn(self, ctxt, publisher_id, event_type, payload, metadata):
        self.warned += 1
        if self.warned == 1:
            return om.NotificationResult.REQUEUE
        self.handled.set()
        return om.NotificationResult.HANDLED


TRANSPORTS: list = []


def rpc_transport(url: str):
    """An RPC transport whose reply queue is deleted after the run."""
    transport = om.get_rpc_transport(conf(), url)
    TRANSPORTS.append(transport)
    return transport


def reply_queues() -> list[str]:
    """The transports' reply queues: ours names it ``reply_queue_name``,
    oslo.messaging keeps it in its driver's ``_reply_q``."""
    names = []
    for transport in TRANSPORTS:
        driver = transport._driver
        name = getattr(driver, 'reply_queue_name', None) or getattr(driver, '_reply_q', None)
        if name:
            names.append(name)
    return names


def rpc_server(transport, topic: str, endpoint) -> om.MessageHandlingServer:
    server = om.get_rpc_server(transport, om.Target(topic=topic, server='s1'), [endpoint],
                               executor='threading')
    server.start()
    return server


def stop(server) -> None:
    server.stop()
    server.wait()


def refused_then_recovered(url: str, topic: str) -> dict:
    """A cast to a port nothing listens on; the broker appears there after
    the first failure is logged."""
    port = free_port()
    transport = rpc_transport(url_on(url, port))
    client = om.get_rpc_client(transport, om.Target(topic=topic))
    sent = {}
    caster = threading.Thread(target=lambda: sent.update(outcome(client.cast, {}, 'echo',
                                                                  value=1)))
    caster.start()
    RECORDS.wait_for('ERROR', 'refused')
    proxy = TcpProxy(BROKER_PORT, listen_port=port)
    caster.join(WAIT)
    transport.cleanup()
    proxy.close()
    return {'cast': sent}


def connection_cut(url: str, topic: str) -> dict:
    """A running server loses its broker connection and reconnects."""
    proxy = TcpProxy(BROKER_PORT)
    transport = rpc_transport(url_on(url, proxy.port))
    endpoint = Calls()
    server = rpc_server(transport, topic, endpoint)
    client = om.get_rpc_client(transport, om.Target(topic=topic), timeout=WAIT)
    before = outcome(client.call, {}, 'echo', value=1)
    proxy.drop()
    RECORDS.wait_for('INFO', 'Reconnected to AMQP server')
    after = outcome(client.call, {}, 'echo', value=2)
    stop(server)
    transport.cleanup()
    proxy.close()
    return {'before': before, 'after': after}


def endpoint_raises(url: str, topic: str) -> dict:
    transport = rpc_transport(url)
    server = rpc_server(transport, topic, Calls())
    client = om.get_rpc_client(transport, om.Target(topic=topic), timeout=WAIT)
    failed = outcome(client.call, {}, 'fail')
    stop(server)
    transport.cleanup()
    return {'call': {'raised': failed.get('raised')}}


def call_timeout(url: str, topic: str) -> dict:
    transport = rpc_transport(url)
    client = om.get_rpc_client(transport, om.Target(topic=topic), timeout=1)
    timed_out = outcome(client.call, {}, 'echo', value=1)
    transport.cleanup()
    return {'call': timed_out}


def reply_queue_missing(url: str, topic: str) -> dict:
    """A call whose reply queue does not exist (its caller is gone): the
    server retries the reply for kombu_missing_consumer_retry_timeout."""
    transport = rpc_transport(url_on(url, BROKER_PORT, 'kombu_missing_consumer_retry_timeout=1'))
    endpoint = Calls()
    server = rpc_server(transport, topic, endpoint)
    body = {'method': 'echo', 'args': {'value': 1}, 'version': '1.0',
            '_msg_id': uuid.uuid4().hex, '_reply_q': topic + '_gone_reply',
            '_unique_id': uuid.uuid4().hex}
    with kombu.Connection('amqp://' + url.split('://', 1)[1]) as connection:
        producer = connection.Producer()
        producer.publish({'oslo.version': '2.0', 'oslo.message': json.dumps(body)},
                         exchange='openstack', routing_key=topic)
    RECORDS.wait_for('ERROR', 'Abandoning')
    stop(server)
    transport.cleanup()
    return {}


def notifications(url: str, topic: str) -> dict:
    """An unknown priority, a failing endpoint, a requeue."""
    transport = om.get_notification_transport(conf(), url)
    endpoint = Notes()
    listener = om.get_notification_listener(
        transport, [om.Target(topic=topic)], [endpoint], executor='threading',
        allow_requeue=True)
    listener.start()
    notifier = om.Notifier(transport, 'scenario.host', driver='messagingv2', topics=[topic])
    # The dispatcher takes the priority from the message, not the queue.
    with kombu.Connection('amqp://' + url.split('://', 1)[1]) as connection:
        connection.Producer().publish(
            {'oslo.version': '2.0', 'oslo.message': json.dumps({
                'message_id': 'a-notification', 'publisher_id': 'scenario.host',
                'event_type': 'odd.priority', 'priority': 'LOUD', 'payload': {},
                'timestamp': '2024-01-01 00:00:00.000000'})},
            exchange='openstack', routing_key=topic + '.info')
    RECORDS.wait_for('WARNING', 'Unknown priority')
    notifier.info({}, 'thing.failed', {'n': 1})
    RECORDS.wait_for('ERROR', 'exception')
    notifier.warn({}, 'thing.requeued', {'n': 2})
    handled = endpoint.handled.wait(WAIT)
    stop(listener)
    transport.cleanup()
    return {'handled after a requeue': handled}


SCENARIOS = {fn.__name__: fn for fn in (refused_then_recovered, connection_cut,
                                        endpoint_raises, call_timeout,
                                        reply_queue_missing, notifications)}


if __name__ == '__main__':
    scenario, broker_url, prefix = sys.argv[1:4]
    observed = SCENARIOS[scenario](broker_url, prefix)
    print(json.dumps({'records': RECORDS.seen, 'observed': observed,
                      'cleanup': reply_queues()}))
