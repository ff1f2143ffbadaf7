"""On a broker that denies RabbitMQ 4's deprecated features (all those
``rabbitmqctl list_deprecated_features`` lists), what works and what says why.

- The classic defaults declare transient (non-durable, non-exclusive) topic
  queues, which the broker refuses (541, ``transient_nonexcl_queues``): a
  server's start fails at once, naming the queue, the broker's refusal and
  the options that fix it, instead of retrying forever.
- A process's own reply and fanout queues, refused as transient, are
  declared durable instead (removed by ``x-expires`` once unused); with
  ``amqp_durable_queues = true`` for the shared queues, calls, casts,
  fanouts and notifications work.
- The Kolla configuration (quorum queues, quorum reply queues, stream
  fanout, queue manager) works.

These tests need such a broker: CI runs them on a RabbitMQ 4.3 node started
with every deprecated feature denied (tests/brokers/run_suites.py, suite
``denied``). On a broker that permits transient queues (RabbitMQ 3.x, or
4.x as configured by default) they are skipped, saying so.
"""
from __future__ import annotations

import logging
import uuid

import amqp
import pytest

import messaging
from messaging.drivers.rabbit.errors import DeprecatedFeatureDenied
from tests.functional.conftest import queue_column, raw_connection
from tests.functional.rabbit_helpers import WAIT, Responder, fails_at_once, poll
from tests.functional.test_rabbit_kolla import KOLLA
from tests.functional.test_rabbit_notify import _notification

pytestmark = pytest.mark.timeout(90)


def _denies_transient_queues(url: str) -> bool:
    name = 'probe_transient_' + uuid.uuid4().hex[:10]
    with raw_connection(url) as connection:
        channel = connection.channel()
        try:
            channel.queue_declare(name, durable=False, auto_delete=False)
        except amqp.exceptions.InternalError:
            return True
        channel.queue_delete(name)
        return False


@pytest.fixture(scope='module', autouse=True)
def denying_broker(rabbit_url):
    if not _denies_transient_queues(rabbit_url):
        pytest.skip('needs a broker denying deprecated features (transient_nonexcl_queues); '
                    'CI runs these on RabbitMQ 4.3 so configured (run_suites.py, denied)')


def _serve_and_call(make_transport, names, broker_cleanup, **options):
    """A server of ``names``' topic answers a call, takes a cast and a
    fanout, and a notification reaches a listener, with ``options``;
    returns the driver."""
    topic, exchange = names
    for suffix in ('.srv', '.info'):
        broker_cleanup.queue(topic + suffix)
    driver = make_transport(**options)._driver
    target = messaging.Target(topic=topic, server='srv', exchange=exchange)
    server = Responder(driver.listen(target, 1, None))
    notified = driver.listen_for_notification(
        [(messaging.Target(topic=topic, exchange=exchange), 'info')], None, 1, None)
    try:
        assert driver.send(target, {}, {'method': 'm', 'args': 1}, wait_for_reply=True,
                           timeout=WAIT) == 1
        driver.send(target, {}, {'method': 'cast', 'args': 2})
        driver.send(messaging.Target(topic=topic, exchange=exchange, fanout=True), {},
                    {'method': 'fan', 'args': 3})
        server.wait_until(lambda received: {m.message['method'] for m in received}
                          >= {'m', 'cast', 'fan'})
        notification = dict(_notification(), payload={'n': 4})
        driver.send_notification(messaging.Target(topic=topic + '.info', exchange=exchange),
                                 {}, notification, 2.0)
        assert [m.message['payload'] for m in poll(notified)] == [{'n': 4}]
    finally:
        notified.stop()
        notified.cleanup()
        server.stop()
    return driver


def test_the_classic_defaults_fail_a_server_start_at_once_saying_what_to_set(
        rabbit_transport, rabbit_names):
    topic, exchange = rabbit_names
    driver = rabbit_transport()._driver
    error = fails_at_once(driver.listen, messaging.Target(topic=topic, server='srv',
                                                          exchange=exchange), 1, None)
    assert isinstance(error, DeprecatedFeatureDenied)
    for part in ('declare queue %s (durable False' % topic, 'transient_nonexcl_queues',
                 'rabbit_quorum_queue = true', 'amqp_durable_queues = true'):
        assert part in str(error)
    # A notification (its queue is shared) too.
    notification = fails_at_once(driver.send_notification,
                                 messaging.Target(topic=topic + '.info', exchange=exchange),
                                 {}, _notification(), 2.0)
    assert (isinstance(notification, DeprecatedFeatureDenied)
            and 'declare queue %s.info' % topic in str(notification))


def test_a_process_own_queues_are_made_durable_where_transient_ones_are_denied(
        rabbit_transport, rabbit_names, caplog):
    """A reply queue is this process's alone: declared transient as
    oslo.messaging declares it, refused, it is declared durable instead
    (expiring once unused), so that a call works wherever its server can run."""
    topic, exchange = rabbit_names
    server = rabbit_transport(amqp_durable_queues='true')._driver
    responder = Responder(server.listen(messaging.Target(topic=topic, server='srv',
                                                         exchange=exchange), 1, None))
    try:
        # The exchange is shared: the caller declares it durable too.
        caller = rabbit_transport(amqp_durable_queues='true')._driver
        with caplog.at_level(logging.WARNING, logger='messaging.drivers.rabbit'):
            assert caller.send(messaging.Target(topic=topic, exchange=exchange), {},
                               {'method': 'm', 'args': 1}, wait_for_reply=True,
                               timeout=WAIT) == 1
        assert queue_column(caller.reply_queue_name, 'durable') == 'true'
        # Said once per connection: here the server's (its fanout queue)
        # and the caller's reply connection.
        warned = [r.getMessage() for r in caplog.records
                  if 'denies transient non-exclusive queues' in r.getMessage()]
        assert len(warned) == 2
        assert len([w for w in warned if caller.reply_queue_name in w]) == 1
    finally:
        responder.stop()


def test_durable_queues_work_with_every_deprecated_feature_denied(
        rabbit_transport, rabbit_names, broker_cleanup):
    driver = _serve_and_call(rabbit_transport, rabbit_names, broker_cleanup,
                             amqp_durable_queues='true')
    reply = driver.reply_queue_name
    assert queue_column(reply, 'durable') == 'true'
    assert 'x-expires' in queue_column(reply, 'arguments')


def test_the_kolla_configuration_works_with_every_deprecated_feature_denied(
        rabbit_transport, rabbit_names, broker_cleanup, host):
    topic, _exchange = rabbit_names
    broker_cleanup.queue(topic + '_fanout')
    _serve_and_call(rabbit_transport, rabbit_names, broker_cleanup, hostname=host, **KOLLA)
