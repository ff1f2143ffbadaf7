"""ConfFixture: overrides for the length of a test, then back to the defaults."""
import importlib.util
import unittest

import fixtures
import pytest
from oslo_config import cfg

from messaging import conffixture


def test_registers_the_core_options(conf):
    conffixture.ConfFixture(conf)
    assert conf.transport_url == 'rabbit://'
    assert conf.rpc_response_timeout == 60
    assert conf.oslo_messaging_notifications.topics == ['notifications']


@pytest.mark.skipif(importlib.util.find_spec('messaging.drivers.rabbit.options') is None,
                    reason='messaging/drivers/rabbit/options.py does not exist yet')
def test_registers_the_rabbit_options(conf):
    conffixture.ConfFixture(conf)
    assert conf.oslo_messaging_rabbit.rabbit_ha_queues is False


def test_context_manager_sets_and_resets_options(conf):
    with conffixture.ConfFixture(conf, transport_url='fake://h/') as fixture:
        fixture.response_timeout = 7
        fixture.set_override('control_exchange', 'nova')
        fixture.set_override('topics', ['a', 'b'], group='oslo_messaging_notifications')
        assert conf.transport_url == 'fake://h/'
        assert fixture.transport_url == 'fake://h/'
        assert conf.rpc_response_timeout == 7
        assert fixture.response_timeout == 7
        assert conf.control_exchange == 'nova'
        assert conf.oslo_messaging_notifications.topics == ['a', 'b']
    assert conf.transport_url == 'rabbit://'
    assert conf.rpc_response_timeout == 60
    assert conf.control_exchange == 'openstack'
    assert conf.oslo_messaging_notifications.topics == ['notifications']


def test_transport_url_setter(conf):
    with conffixture.ConfFixture(conf) as fixture:
        fixture.transport_url = 'fake://'
        assert conf.transport_url == 'fake://'
    assert conf.transport_url == 'rabbit://'


def test_fixture_protocol_setup_and_cleanup(conf):
    fixture = conffixture.ConfFixture(conf, transport_url='fake://')
    assert isinstance(fixture, fixtures.Fixture)
    fixture.setUp()
    try:
        fixture.response_timeout = 3
        assert (conf.transport_url, conf.rpc_response_timeout) == ('fake://', 3)
    finally:
        fixture.cleanUp()
    assert (conf.transport_url, conf.rpc_response_timeout) == ('rabbit://', 60)


def test_use_fixture_in_a_testtools_style_test_case(conf):
    seen = {}

    class Case(fixtures.TestWithFixtures):
        def test_it(self):
            fixture = self.useFixture(conffixture.ConfFixture(conf, 'fake://x/'))
            fixture.set_override('rpc_response_timeout', 5)
            seen['url'] = conf.transport_url
            seen['timeout'] = conf.rpc_response_timeout

    result = unittest.TestResult()
    Case('test_it').run(result)
    assert result.wasSuccessful(), result.errors + result.failures
    assert seen == {'url': 'fake://x/', 'timeout': 5}
    assert conf.transport_url == 'rabbit://'
    assert conf.rpc_response_timeout == 60


def test_overrides_are_reset_even_when_the_test_fails(conf):
    with pytest.raises(RuntimeError):
        with conffixture.ConfFixture(conf, 'fake://'):
            raise RuntimeError('test failed')
    assert conf.transport_url == 'rabbit://'


def test_two_fixtures_on_separate_configs_do_not_interfere():
    a, b = cfg.ConfigOpts(), cfg.ConfigOpts()
    a([])
    b([])
    with conffixture.ConfFixture(a, 'fake://a/'):
        with conffixture.ConfFixture(b, 'fake://b/'):
            assert (a.transport_url, b.transport_url) == ('fake://a/', 'fake://b/')
        assert b.transport_url == 'rabbit://'
        assert a.transport_url == 'fake://a/'


def test_conffixture_is_importable_by_the_oslo_path():
    assert conffixture.__all__ == ['ConfFixture']


def test_cleanup_undoes_every_override_made_while_active_as_oslo(conf):
    fixture = conffixture.ConfFixture(conf)
    conf.set_override('control_exchange', 'before')
    fixture.setUp()
    conf.set_override('rpc_response_timeout', 9)
    conf.set_override('driver', ['noop'], group='oslo_messaging_notifications')
    conf.clear_override('control_exchange')
    conf.set_override('control_exchange', 'during')
    fixture.cleanUp()
    assert conf.rpc_response_timeout == 60
    assert conf.oslo_messaging_notifications.driver == []
    assert conf.control_exchange == 'openstack'
