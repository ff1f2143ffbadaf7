"""A notification requeued past its quorum queue's delivery limit is dropped
by the broker; the listener says so, once, when it requeues it the last time."""
from __future__ import annotations

import logging

import pytest

import messaging
from tests.functional.rabbit_helpers import poll
from tests.functional.test_rabbit_notify import _notification

pytestmark = pytest.mark.timeout(120)

LAST_TIME = 'for the last time'


def _requeue_until_gone(driver, topic, exchange):
    """Send one notification to a quorum queue and requeue it each time it
    comes; the number of deliveries until it comes no more."""
    listener = driver.listen_for_notification(
        [(messaging.Target(topic=topic, exchange=exchange), 'info')], None, 1, None)
    try:
        driver.send_notification(messaging.Target(topic=topic + '.info', exchange=exchange),
                                 {}, _notification(), 2.0)
        deliveries = 0
        # A requeued message comes back at once; one that does not within
        # a few seconds was dropped.
        while True:
            batch = poll(listener, timeout=3 if deliveries else 10)
            if not batch:
                return deliveries
            deliveries += 1
            assert deliveries <= 30, 'the broker applies no delivery limit'
            batch[0].requeue()
    finally:
        listener.stop()
        listener.cleanup()


def _server_major(rabbit_transport) -> int:
    driver = rabbit_transport()._driver
    with driver._borrow() as connection:
        version = connection.ensure(lambda channel: channel.connection.server_properties[
            'version'], what='read the broker version')
    return int(version.split('.')[0])


def test_a_configured_delivery_limit_is_honoured_and_the_last_requeue_logged(
        rabbit_transport, rabbit_names, caplog):
    topic, exchange = rabbit_names
    driver = rabbit_transport(rabbit_quorum_queue='true',
                              rabbit_quorum_delivery_limit=2)._driver
    with caplog.at_level(logging.WARNING, logger='messaging.drivers.rabbit'):
        assert _requeue_until_gone(driver, topic, exchange) == 3
    last = [r.getMessage() for r in caplog.records if LAST_TIME in r.getMessage()]
    assert len(last) == 1
    for part in ('compute.instance.create.end', topic + '.info', 'delivered 2 times',
                 "delivery limit is 2", 'rabbit_quorum_delivery_limit'):
        assert part in last[0]


def test_rabbitmq_4_default_delivery_limit_is_said_when_reached(
        rabbit_transport, rabbit_names, caplog):
    if _server_major(rabbit_transport) < 4:
        pytest.skip('RabbitMQ 3 sets no default delivery limit on quorum queues; '
                    'CI runs this on RabbitMQ 4.3 and 4.0')
    topic, exchange = rabbit_names
    driver = rabbit_transport(rabbit_quorum_queue='true')._driver
    with caplog.at_level(logging.WARNING, logger='messaging.drivers.rabbit'):
        assert _requeue_until_gone(driver, topic, exchange) == 21
    last = [r.getMessage() for r in caplog.records if LAST_TIME in r.getMessage()]
    assert len(last) == 1 and 'delivery limit is 20' in last[0]
