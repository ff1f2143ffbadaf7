"""Notifications over RabbitMQ through the driver: queues, formats, pools."""
from __future__ import annotations

import json
import logging
import uuid

import pytest

import messaging
from tests.functional.rabbit_helpers import (get_raw, poll)

pytestmark = pytest.mark.timeout(60)
def _notification(priority='INFO'):
    return {'message_id': str(uuid.uuid4()), 'publisher_id': 'compute.host1',
            'event_type': 'compute.instance.create.end', 'priority': priority,
            'payload': {'id': 7}, 'timestamp': '2026-11-21 13:15:33.318036'}


@pytest.mark.parametrize('version', [1.0, 2.0])
def test_notification_is_queued_by_the_notifier_and_listened(
        rabbit_transport, rabbit_names, raw_channel, version):
    topic, exchange = rabbit_names
    driver = rabbit_transport()._driver
    sent = _notification()
    driver.send_notification(messaging.Target(topic=topic + '.info', exchange=exchange),
                             {'user': 'u1'}, sent, version)
    # The notifier declared the queue: the message waits there.
    message = get_raw(raw_channel, topic + '.info')
    body = json.loads(message.body)
    inner = json.loads(body['oslo.message']) if version == 2.0 else body
    assert 'oslo.version' in body if version == 2.0 else 'oslo.version' not in body
    assert list(inner)[:7] == list(sent) + ['_unique_id']
    assert inner['_context_user'] == 'u1'

    driver.send_notification(messaging.Target(topic=topic + '.info', exchange=exchange),
                             {}, sent, version)
    listener = driver.listen_for_notification(
        [(messaging.Target(topic=topic, exchange=exchange), 'info')], None, 1, None)
    first, = poll(listener)
    first.requeue()
    again, = poll(listener)
    again.acknowledge()
    assert again.message['event_type'] == sent['event_type']
    assert again.ctxt == {'client_timeout': None}
    assert listener.poll(timeout=0.3) == []
    listener.cleanup()


def test_pool_is_one_queue_named_as_the_pool_bound_on_each_target(
        rabbit_transport, rabbit_names, unique_name, broker_cleanup):
    topic, exchange = rabbit_names
    pool = broker_cleanup.queue(unique_name('pool'))
    other = broker_cleanup.exchange(unique_name('ex2'))
    broker_cleanup.queue(topic + '.error')
    driver = rabbit_transport()._driver
    targets = [(messaging.Target(topic=topic, exchange=exchange), 'info'),
               (messaging.Target(topic=topic, exchange=other), 'error')]
    listener = driver.listen_for_notification(targets, pool, 4, 1)
    assert listener.queue_names == [pool]
    for target, priority in targets:
        broker_cleanup.queue(target.topic + '.' + priority)
        driver.send_notification(target(topic=target.topic + '.' + priority), None,
                                 _notification(priority.upper()), 2.0)
    got = poll(listener, count=2)
    for incoming in got:
        incoming.acknowledge()
    listener.cleanup()
    assert sorted(m.message['priority'] for m in got) == ['ERROR', 'INFO']


def test_notifications_nobody_reads_are_warned_of_once(rabbit_url, unique_name, broker_cleanup,
                                                        monkeypatch, caplog):
    from oslo_config import cfg

    from messaging.drivers.rabbit import unread_notifications

    monkeypatch.setattr(unread_notifications, 'CHECK_INTERVAL', 0)
    topic = unique_name('unread')
    broker_cleanup.queue(topic + '.info')
    conf = cfg.ConfigOpts()
    conf([])
    transport = messaging.get_notification_transport(conf, rabbit_url)
    try:
        notifier = messaging.Notifier(transport, 'test.host', driver='messagingv2',
                                      topics=[topic])
        caplog.set_level(logging.WARNING)
        for n in range(4):
            notifier.info({}, 'compute.instance.update', {'n': n})
    finally:
        transport.cleanup()
    warned = [r for r in caplog.records if 'has no consumer and grows' in r.getMessage()]
    assert len(warned) == 1
    assert warned[0].queue == topic + '.info'
