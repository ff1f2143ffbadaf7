"""get_*_transport, driver loading, and the checks Transport makes before a driver."""
import pytest
from oslo_config import cfg

import messaging
from messaging import options
from messaging import transport as transport_mod
from messaging.drivers import impl_fake


@pytest.fixture
def restore_control_exchange():
    yield
    messaging.set_transport_defaults(control_exchange='openstack')


def test_get_transport_loads_the_driver_named_by_the_scheme(conf):
    transport = messaging.get_transport(conf, 'fake://h/vh')
    try:
        assert isinstance(transport, messaging.Transport)
        assert isinstance(transport._driver, impl_fake.FakeDriver)
        assert transport.conf is conf
        assert transport._driver._url.virtual_host == 'vh'
    finally:
        transport.cleanup()


def test_get_rpc_transport_returns_an_rpc_transport(conf):
    transport = messaging.get_rpc_transport(conf, 'fake://')
    assert isinstance(transport, messaging.RPCTransport)
    assert not isinstance(transport, messaging.NotificationTransport)


def test_get_transport_without_url_uses_default_transport_url(conf):
    options.register_default_opts(conf)
    conf.set_override('transport_url', 'fake://cfg-host/from-config')
    transport = messaging.get_transport(conf)
    assert transport._driver._url.virtual_host == 'from-config'
    assert transport._driver._url.hosts[0].hostname == 'cfg-host'


def test_get_transport_accepts_a_parsed_url(conf):
    url = messaging.TransportURL.parse(conf, 'fake://h/parsed')
    transport = messaging.get_transport(conf, url)
    assert transport._driver._url is url


def test_allowed_remote_exmods_reach_the_driver(conf):
    transport = messaging.get_rpc_transport(conf, 'fake://',
                                            allowed_remote_exmods=['my.exceptions'])
    assert transport._driver._allowed_remote_exmods == ['my.exceptions']


def test_notification_transport_uses_its_own_url_when_set(conf):
    options.register_default_opts(conf)
    options.register_notifier_opts(conf)
    conf.set_override('transport_url', 'fake://h/rpc-vhost')
    conf.set_override('transport_url', 'fake://h/notify-vhost',
                      group='oslo_messaging_notifications')
    transport = messaging.get_notification_transport(conf)
    assert isinstance(transport, messaging.NotificationTransport)
    assert transport._driver._url.virtual_host == 'notify-vhost'


def test_notification_transport_falls_back_to_default_transport_url(conf):
    options.register_default_opts(conf)
    conf.set_override('transport_url', 'fake://h/rpc-vhost')
    transport = messaging.get_notification_transport(conf)
    assert transport._driver._url.virtual_host == 'rpc-vhost'


def test_notification_transport_explicit_url_wins(conf):
    options.register_notifier_opts(conf)
    conf.set_override('transport_url', 'fake://h/notify-vhost',
                      group='oslo_messaging_notifications')
    transport = messaging.get_notification_transport(conf, 'fake://h/explicit')
    assert transport._driver._url.virtual_host == 'explicit'


def test_unknown_scheme_names_it_and_lists_available_drivers(conf):
    with pytest.raises(messaging.DriverLoadFailure) as info:
        messaging.get_transport(conf, 'nosuchdriver://h/')
    assert info.value.driver == 'nosuchdriver'
    text = str(info.value)
    assert 'nosuchdriver' in text
    assert 'fake' in text


def test_malformed_url_raises_invalid_transport_url(conf):
    with pytest.raises(messaging.InvalidTransportURL):
        messaging.get_transport(conf, 'no-scheme-here')


def test_default_exchange_is_openstack(conf):
    transport = messaging.get_transport(conf, 'fake://')
    assert transport._driver._default_exchange == 'openstack'


def test_set_transport_defaults_changes_the_exchange_the_driver_gets(
        restore_control_exchange):
    messaging.set_transport_defaults(control_exchange='nova')
    conf = cfg.ConfigOpts()
    conf([])
    transport = messaging.get_transport(conf, 'fake://')
    assert transport._driver._default_exchange == 'nova'


def test_configured_control_exchange_overrides_the_default(conf):
    options.register_default_opts(conf)
    conf.set_override('control_exchange', 'neutron')
    transport = messaging.get_transport(conf, 'fake://')
    assert transport._driver._default_exchange == 'neutron'


@pytest.fixture
def transport(conf):
    transport = messaging.get_transport(conf, 'fake://')
    yield transport
    transport.cleanup()


@pytest.mark.parametrize('target', [messaging.Target(), messaging.Target(server='s'),
                                    messaging.Target(topic='')])
def test_send_without_topic_is_an_invalid_target(transport, target):
    with pytest.raises(messaging.InvalidTarget) as info:
        transport._send(target, {}, {'method': 'm'})
    assert info.value.target is target


def test_send_notification_without_topic_is_an_invalid_target(transport):
    with pytest.raises(messaging.InvalidTarget):
        transport._send_notification(messaging.Target(), {}, {}, 2.0)


@pytest.mark.parametrize('target', [messaging.Target(topic='t'),
                                    messaging.Target(server='s'),
                                    messaging.Target(topic='t', server='')])
def test_listen_without_topic_and_server_is_an_invalid_target(transport, target):
    with pytest.raises(messaging.InvalidTarget):
        transport._listen(target, 1, None)


def test_listen_for_notification_without_topic_is_an_invalid_target(transport):
    with pytest.raises(messaging.InvalidTarget):
        transport._listen_for_notification([(messaging.Target(), 'info')], None, 1, None)


def test_invalid_target_is_a_value_error_and_names_the_target():
    error = messaging.InvalidTarget('A topic is required', messaging.Target(server='srv'))
    assert isinstance(error, ValueError)
    assert isinstance(error, messaging.MessagingException)
    assert 'srv' in str(error)


def test_send_passes_every_argument_to_the_driver(conf):
    seen = {}

    class RecordingDriver:
        def __init__(self):
            self.conf = conf

        def send(self, target, ctxt, message, **kwargs):
            seen.update(target=target, ctxt=ctxt, message=message, **kwargs)
            return 'reply'

    transport = transport_mod.Transport(RecordingDriver())
    options_ = messaging.TransportOptions(at_least_once=True)
    target = messaging.Target(topic='t')
    result = transport._send(target, {'c': 1}, {'method': 'm'}, wait_for_reply=True,
                             timeout=3, call_monitor_timeout=2, retry=1,
                             transport_options=options_)
    assert result == 'reply'
    assert seen == dict(target=target, ctxt={'c': 1}, message={'method': 'm'},
                        wait_for_reply=True, timeout=3, call_monitor_timeout=2,
                        retry=1, transport_options=options_)


def test_transport_options_default_is_not_at_least_once():
    assert messaging.TransportOptions().at_least_once is False


def test_empty_notification_transport_url_falls_back_to_default(conf):
    options.register_default_opts(conf)
    options.register_notifier_opts(conf)
    conf.set_override('transport_url', 'fake://h/rpc-vhost')
    conf.set_override('transport_url', '', group='oslo_messaging_notifications')
    transport = messaging.get_notification_transport(conf)
    assert transport._driver._url.virtual_host == 'rpc-vhost'


def test_the_fake_driver_has_no_queue_to_retire(conf):
    transport = messaging.get_rpc_transport(conf, 'fake://')
    try:
        with pytest.raises(NotImplementedError, match='FakeDriver driver has no queues'):
            transport.admin.retire_queue('compute')
    finally:
        transport.cleanup()
