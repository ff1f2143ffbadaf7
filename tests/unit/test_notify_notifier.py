"""Notifier: message format, options, drivers, contexts and error handling."""
from __future__ import annotations

import datetime
import logging
import re
import uuid
from unittest import mock

import pytest

import messaging
from messaging.notify import messaging as notify_messaging

TIMESTAMP = re.compile(r'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?$')


@pytest.fixture
def transport(conf):
    transport = messaging.get_notification_transport(conf, 'fake://')
    yield transport
    transport.cleanup()


class Context:
    """A context object like oslo.context's: redactable and serializable."""

    def __init__(self, **values):
        self.values = values

    def redacted_copy(self):
        return Context(**dict(self.values, auth_token=None))

    def to_dict(self):
        return dict(self.values)


class ContextSerializer(messaging.NoOpSerializer):
    def serialize_context(self, ctxt):
        return ctxt.to_dict()


@pytest.mark.parametrize('method, priority', [
    ('audit', 'AUDIT'), ('debug', 'DEBUG'), ('info', 'INFO'), ('warn', 'WARN'),
    ('warning', 'WARN'), ('error', 'ERROR'), ('critical', 'CRITICAL'),
    ('sample', 'SAMPLE')])
def test_each_method_sends_its_uppercase_priority(transport, collected, method, priority):
    notifier = messaging.Notifier(transport, 'compute.host1', driver='test')
    getattr(notifier, method)({}, 'compute.instance.create.end', {'id': 1})
    ctxt, message, sent_priority, _retry = collected[0]
    assert sent_priority == priority
    assert message['priority'] == priority


def test_message_has_the_wire_keys_in_order_and_formats(transport, collected):
    notifier = messaging.Notifier(transport, 'compute.host1', driver='test')
    notifier.info(None, 'compute.instance.create.end', {'id': 1})
    _ctxt, message, _priority, _retry = collected[0]
    assert list(message) == ['message_id', 'publisher_id', 'event_type', 'priority',
                             'payload', 'timestamp']
    assert str(uuid.UUID(message['message_id'])) == message['message_id']
    assert message['publisher_id'] == 'compute.host1'
    assert message['event_type'] == 'compute.instance.create.end'
    assert message['payload'] == {'id': 1}
    assert TIMESTAMP.match(message['timestamp'])
    sent = datetime.datetime.fromisoformat(message['timestamp'])
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    assert abs((now - sent).total_seconds()) < 5


@pytest.mark.parametrize('ctxt', [None, {'user': 'u-1', 'auth_token': 'secret'}])
def test_none_and_plain_dict_contexts_are_not_sent(transport, collected, ctxt):
    messaging.Notifier(transport, driver='test').info(ctxt, 'ev', {})
    assert collected[0][0] == {}


def test_context_object_is_redacted_then_serialized(transport, collected):
    notifier = messaging.Notifier(transport, driver='test', serializer=ContextSerializer())
    notifier.info(Context(user='u-1', auth_token='secret'), 'ev', {})
    assert collected[0][0] == {'user': 'u-1', 'auth_token': None}


def test_context_that_cannot_be_redacted_is_dropped_with_a_warning(transport, collected,
                                                                    caplog):
    notifier = messaging.Notifier(transport, driver='test')
    with caplog.at_level(logging.WARNING, logger='messaging.notify.notifier'):
        notifier.info(object(), 'ev', {'a': 1})
    assert collected[0][0] == {}
    assert collected[0][1]['payload'] == {'a': 1}
    assert 'Unable to redact' in caplog.text


def test_payload_goes_through_the_serializer(transport, collected):
    serializer = mock.Mock(spec=messaging.Serializer)
    serializer.serialize_entity.return_value = {'serialized': True}
    messaging.Notifier(transport, driver='test', serializer=serializer).info(None, 'ev', 'x')
    serializer.serialize_entity.assert_called_once_with(None, 'x')
    assert collected[0][1]['payload'] == {'serialized': True}


def test_drivers_topics_and_retry_come_from_the_configuration(conf, transport, collected):
    conf.set_override('driver', ['test'], group='oslo_messaging_notifications')
    conf.set_override('topics', ['a', 'b'], group='oslo_messaging_notifications')
    conf.set_override('retry', 3, group='oslo_messaging_notifications')
    notifier = messaging.Notifier(transport)
    assert notifier.is_enabled()
    assert notifier._topics == ['a', 'b']
    notifier.info({}, 'ev', {})
    assert collected[0][3] == 3


def test_arguments_override_the_configuration(conf, transport, collected):
    conf.set_override('driver', ['messagingv2'], group='oslo_messaging_notifications')
    notifier = messaging.Notifier(transport, driver=['test'], topics=['t'], retry=0)
    assert [ext.name for ext in notifier._drivers] == ['test']
    assert notifier._topics == ['t']
    notifier.info({}, 'ev', {})
    assert collected[0][3] == 0


def test_prepare_overrides_publisher_and_retry_and_shares_drivers(transport, collected):
    notifier = messaging.Notifier(transport, 'pub', driver='test', retry=5)
    child = notifier.prepare(publisher_id='other')
    child.info({}, 'ev', {})
    notifier.prepare(retry=None).info({}, 'ev', {})
    assert [(m['publisher_id'], retry) for _c, m, _p, retry in collected] == [
        ('other', 5), ('pub', None)]
    assert child._drivers is notifier._drivers
    assert notifier.publisher_id == 'pub'


def test_notifier_without_driver_is_enabled_and_builds_what_it_cannot_send(transport):
    # As oslo.messaging's: only a lone noop driver disables a notifier, and
    # the payload and context go through the serializer all the same.
    notifier = messaging.Notifier(transport, driver=[])
    serializer = mock.Mock(spec=messaging.Serializer)
    notifier._serializer = serializer
    assert notifier.is_enabled()
    assert notifier._notify({}, 'ev', {'a': 1}, 'INFO') is False
    serializer.serialize_entity.assert_called_once_with({}, {'a': 1})
    serializer.serialize_context.assert_called_once_with({})


def test_a_dict_context_reaches_serialize_context_as_an_empty_dict(transport, collected):
    serializer = mock.Mock(spec=messaging.Serializer)
    serializer.serialize_context.return_value = {'from': 'serializer'}
    messaging.Notifier(transport, driver='test', serializer=serializer).info(
        {'user': 'u'}, 'ev', {})
    serializer.serialize_context.assert_called_once_with({})
    assert collected[0][0] == {'from': 'serializer'}


def test_unknown_driver_is_logged_and_skipped(transport, collected, caplog):
    with caplog.at_level(logging.ERROR, logger='messaging.notify.notifier'):
        notifier = messaging.Notifier(transport, driver=['nope', 'test'])
    assert 'nope' in caplog.text
    notifier.info({}, 'ev', {})
    assert len(collected) == 1


def test_driver_errors_are_logged_and_swallowed_and_other_drivers_still_run(
        transport, collected, caplog):
    notifier = messaging.Notifier(transport, driver=['noop', 'test'])
    broken = notifier._drivers[0]
    with mock.patch.object(broken.obj, 'notify', side_effect=RuntimeError('boom')), \
            caplog.at_level(logging.ERROR, logger='messaging.notify.notifier'):
        assert notifier._notify({}, 'ev', {}, 'INFO') is False
        notifier.error({}, 'ev', {})
    assert 'boom' in caplog.text
    assert {record.driver for record in caplog.records} == {'noop'}
    assert len(collected) == 2


def test_rpc_transport_gets_a_warning(conf, caplog):
    transport = messaging.get_rpc_transport(conf, 'fake://')
    with caplog.at_level(logging.WARNING, logger='messaging.notify.notifier'):
        messaging.Notifier(transport, driver='noop')
    assert 'RPC transport' in caplog.text


@pytest.mark.parametrize('driver, version', [('messaging', 1.0), ('messagingv2', 2.0)])
def test_messaging_drivers_send_once_per_topic_with_priority_routing_key(
        transport, driver, version):
    notifier = messaging.Notifier(transport, 'pub', driver=driver, topics=['n1', 'n2'],
                                  retry=2)
    with mock.patch.object(transport, '_send_notification') as send:
        notifier.warning({'x': 1}, 'ev', {'a': 1})
    assert [c.args[0].topic for c in send.call_args_list] == ['n1.warn', 'n2.warn']
    for call in send.call_args_list:
        assert call.args[1] == {}
        assert call.args[2]['priority'] == 'WARN'
        assert call.kwargs == {'version': version, 'retry': 2}


def test_messaging_driver_tries_every_topic_and_logs_failures(transport, caplog):
    driver = notify_messaging.MessagingDriver(None, ['bad', 'good'], transport)
    sent = []

    def send(target, ctxt, message, version, retry):
        if target.topic.startswith('bad'):
            raise messaging.MessageDeliveryFailure('broker down')
        sent.append(target.topic)

    with mock.patch.object(transport, '_send_notification', side_effect=send), \
            caplog.at_level(logging.ERROR, logger='messaging.notify.messaging'):
        assert driver.notify({}, {'message_id': 'm1', 'event_type': 'ev'}, 'INFO', 0) is False
    assert sent == ['good.info']
    assert 'Could not send notification to bad.' in caplog.text
    assert 'broker down' in caplog.text


def test_v1_driver_is_a_messaging_driver_with_version_1(transport):
    assert notify_messaging.MessagingV1Driver(None, ['t'], transport).version == 1.0
    assert notify_messaging.MessagingV2Driver is notify_messaging.MessagingDriver
