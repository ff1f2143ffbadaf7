"""RPCClient: the messages it builds, its checks and options, and its errors.

A recording driver stands in for the broker so that each test sees exactly
what the client handed to the transport.
"""
from __future__ import annotations

import logging
from typing import Any

import pytest
from oslo_config import cfg

import messaging
from messaging.drivers import base
from messaging import wire
from tests.unit.test_rpc_support import make_transport


class RecordingDriver:
    """Records every send; returns ``result`` or raises ``error``."""

    def __init__(self, result: Any = None, error: BaseException = None) -> None:
        self.conf = cfg.ConfigOpts()
        self.sent: list[dict] = []
        self.result = result
        self.error = error

    def send(self, target, ctxt, message, **kwargs: Any) -> Any:
        self.sent.append(dict(target=target, ctxt=ctxt, message=message, **kwargs))
        if self.error is not None:
            raise self.error
        return self.result


def recording_client(target=None, result: Any = None, error: BaseException = None,
                     **kwargs: Any) -> tuple[messaging.RPCClient, RecordingDriver]:
    driver = RecordingDriver(result, error)
    client = messaging.get_rpc_client(messaging.RPCTransport(driver),
                                      target or messaging.Target(topic='t'), **kwargs)
    return client, driver


class TaggingSerializer(messaging.NoOpSerializer):
    """Marks what went through each hook, so a test can see it was used."""

    def serialize_entity(self, ctxt, entity):
        return ['ser', entity]

    def deserialize_entity(self, ctxt, entity):
        return ['deser', entity, ctxt]

    def serialize_context(self, ctxt):
        return dict(ctxt, serialized=True)


def test_call_message_has_method_and_args_only_when_target_has_no_namespace_or_version():
    client, driver = recording_client(result=5)
    assert client.call({'user': 'u'}, 'add', x=1, y=2) == 5
    sent = driver.sent[0]
    assert sent['message'] == {'method': 'add', 'args': {'x': 1, 'y': 2}}
    assert sent['ctxt'] == {'user': 'u'}
    assert sent['wait_for_reply'] is True


def test_message_carries_namespace_and_version_of_the_target():
    client, driver = recording_client(messaging.Target(topic='t', namespace='ns',
                                                       version='1.3'))
    client.cast({}, 'm')
    assert driver.sent[0]['message'] == {'method': 'm', 'args': {}, 'namespace': 'ns',
                                         'version': '1.3'}
    assert not driver.sent[0].get('wait_for_reply')


def test_call_timeout_defaults_to_rpc_response_timeout():
    client, driver = recording_client()
    client.conf.set_override('rpc_response_timeout', 17)
    client.call({}, 'm')
    assert driver.sent[0]['timeout'] == 17


def test_client_and_prepare_timeout_override_rpc_response_timeout():
    client, driver = recording_client(timeout=3)
    client.call({}, 'm')
    client.prepare(timeout=9).call({}, 'm')
    assert [s['timeout'] for s in driver.sent] == [3, 9]


def test_retry_monitor_timeout_and_transport_options_reach_the_driver():
    options = messaging.TransportOptions(at_least_once=True)
    client, driver = recording_client(retry=2, call_monitor_timeout=4,
                                      transport_options=options)
    client.call({}, 'm')
    client.cast({}, 'm')
    call, cast = driver.sent
    assert (call['retry'], call['call_monitor_timeout'], call['transport_options']) == (
        2, 4, options)
    assert (cast['retry'], cast['transport_options']) == (2, options)


def test_call_on_fanout_target_raises_invalid_target_and_sends_nothing():
    client, driver = recording_client(messaging.Target(topic='t', fanout=True))
    with pytest.raises(messaging.InvalidTarget):
        client.call({}, 'm')
    with pytest.raises(messaging.InvalidTarget):
        recording_client()[0].prepare(fanout=True).call({}, 'm')
    assert driver.sent == []


def test_cast_on_fanout_target_is_sent_to_the_fanout_target():
    client, driver = recording_client()
    client.prepare(fanout=True).cast({}, 'm')
    assert driver.sent[0]['target'].fanout is True


@pytest.mark.parametrize('send', ['call', 'cast'])
def test_version_above_cap_raises_and_sends_nothing(send):
    client, driver = recording_client(messaging.Target(topic='t', version='1.5'),
                                      version_cap='1.4')
    with pytest.raises(messaging.RPCVersionCapError) as raised:
        getattr(client, send)({}, 'm')
    assert (raised.value.version, raised.value.version_cap) == ('1.5', '1.4')
    assert driver.sent == []


def test_version_within_cap_is_sent():
    client, driver = recording_client(messaging.Target(topic='t', version='1.2'),
                                      version_cap='1.4')
    client.cast({}, 'm')
    assert driver.sent[0]['message']['version'] == '1.2'


def test_can_send_version():
    client, _ = recording_client(messaging.Target(topic='t', version='1.5'),
                                 version_cap='1.4')
    assert not client.can_send_version()
    assert client.can_send_version('1.4')
    assert not client.can_send_version('2.0')
    assert client.prepare(version='1.1').can_send_version()
    assert recording_client()[0].can_send_version('7.3')


def test_prepare_overrides_fields_and_leaves_the_client_alone():
    target = messaging.Target(exchange='x', topic='t', namespace='ns', version='1.0')
    client, driver = recording_client(target, timeout=5)
    prepared = client.prepare(server='s1', version='1.2', timeout=1, retry=0)
    assert prepared is not client
    assert (prepared.target.server, prepared.target.version, prepared.timeout,
            prepared.retry) == ('s1', '1.2', 1, 0)
    assert (prepared.target.exchange, prepared.target.topic,
            prepared.target.namespace) == ('x', 't', 'ns')
    assert client.target == target and client.timeout == 5


def test_prepared_context_can_be_prepared_again_and_none_clears_a_field():
    client, _ = recording_client(messaging.Target(topic='t', namespace='ns'),
                                 version_cap='2.0')
    again = client.prepare(server='s1').prepare(topic='other', namespace=None)
    assert (again.target.topic, again.target.server, again.target.namespace) == (
        'other', 's1', None)
    assert again.version_cap == '2.0'


def test_prepare_refuses_a_malformed_version():
    client, _ = recording_client()
    with pytest.raises(messaging.MessagingException):
        client.prepare(version='one')


def test_serializer_converts_context_arguments_and_result():
    client, driver = recording_client(result='r', serializer=TaggingSerializer())
    assert client.call({'u': 1}, 'm', a=1, b='x') == ['deser', 'r', {'u': 1}]
    assert driver.sent[0]['message']['args'] == {'a': ['ser', 1], 'b': ['ser', 'x']}
    assert driver.sent[0]['ctxt'] == {'u': 1, 'serialized': True}


@pytest.mark.parametrize('send', ['call', 'cast'])
def test_none_context_is_refused_before_sending(send):
    client, driver = recording_client()
    with pytest.raises(TypeError, match='context'):
        getattr(client, send)(None, 'm')
    assert driver.sent == []


@pytest.mark.parametrize('send', ['call', 'cast'])
def test_driver_error_is_wrapped_in_client_send_error(send):
    error = base.TransportDriverError('broker on fire')
    client, _ = recording_client(error=error)
    with pytest.raises(messaging.ClientSendError) as raised:
        getattr(client, send)({}, 'm')
    assert raised.value.ex is error
    assert raised.value.target == client.target


@pytest.mark.parametrize('error', [
    messaging.MessagingTimeout('late'),
    messaging.MessageDeliveryFailure('gave up'),
    messaging.MessageUndeliverable(None, 'x', 'rk', {}),
    messaging.RemoteError('Boom', 'boom', []),
    ValueError('remote value error'),
])
def test_timeouts_delivery_failures_and_remote_errors_pass_through(error):
    client, _ = recording_client(error=error)
    with pytest.raises(type(error)) as raised:
        client.call({}, 'm')
    assert raised.value is error


def test_remote_driver_error_is_not_mistaken_for_a_local_one():
    failure = wire.serialize_remote_exception(base.TransportDriverError('theirs'))
    remote = wire.deserialize_remote_exception(failure, ['messaging.drivers.base'])
    client, _ = recording_client(error=remote)
    with pytest.raises(base.TransportDriverError) as raised:
        client.call({}, 'm')
    assert raised.value is remote


def test_get_rpc_client_passes_keyword_arguments():
    transport = make_transport()
    client = messaging.get_rpc_client(transport, messaging.Target(topic='t'), timeout=3,
                                      version_cap='1.1', retry=1)
    assert isinstance(client, messaging.RPCClient)
    assert (client.timeout, client.version_cap, client.retry) == (3, '1.1', 1)
    assert isinstance(client.serializer, messaging.NoOpSerializer)


def test_client_on_a_notification_transport_warns(caplog):
    driver = RecordingDriver()
    with caplog.at_level(logging.WARNING, logger='messaging.rpc.client'):
        messaging.RPCClient(messaging.NotificationTransport(driver),
                            messaging.Target(topic='t'))
    assert 'notification transport' in caplog.text


def test_call_to_a_topic_with_no_server_times_out():
    client = messaging.get_rpc_client(make_transport(),
                                      messaging.Target(topic='nobody-home'), timeout=0.2)
    with pytest.raises(messaging.MessagingTimeout):
        client.call({}, 'm')
