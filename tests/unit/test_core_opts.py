"""list_opts: option groups, names and defaults as in oslo.messaging 18.x."""
import importlib.util

import pytest
from oslo_config import cfg
from stevedore import extension

from messaging import opts

RABBIT_OPTIONS = 'messaging.drivers.rabbit.options'


def groups():
    return {group: {opt.name: opt for opt in group_opts}
            for group, group_opts in opts.list_opts()}


def test_groups_are_none_for_default_then_notifications_as_oslo():
    names = [group for group, _ in opts.list_opts()]
    assert names[:2] == [None, 'oslo_messaging_notifications']
    assert len(names) == len(set(names))


@pytest.mark.parametrize('name, default', [
    ('transport_url', 'rabbit://'),
    ('control_exchange', 'openstack'),
    ('rpc_response_timeout', 60),
    ('executor_thread_pool_size', 64),
    ('rpc_ping_enabled', False),
])
def test_default_group_options(name, default):
    assert groups()[None][name].default == default


@pytest.mark.parametrize('name, default', [
    ('driver', []),
    ('transport_url', None),
    ('topics', ['notifications']),
    ('retry', -1),
])
def test_notification_options(name, default):
    assert groups()['oslo_messaging_notifications'][name].default == default


def test_transport_urls_are_secret():
    assert groups()[None]['transport_url'].secret
    assert groups()['oslo_messaging_notifications']['transport_url'].secret


def test_option_types_match_oslo():
    default, notify = groups()[None], groups()['oslo_messaging_notifications']
    assert isinstance(default['rpc_response_timeout'], cfg.IntOpt)
    assert isinstance(default['executor_thread_pool_size'], cfg.IntOpt)
    assert isinstance(default['rpc_ping_enabled'], cfg.BoolOpt)
    assert isinstance(notify['driver'], cfg.MultiStrOpt)
    assert isinstance(notify['topics'], cfg.ListOpt)
    assert isinstance(notify['retry'], cfg.IntOpt)


def test_deprecated_names_still_work():
    conf = cfg.ConfigOpts()
    for group, group_opts in opts.list_opts():
        conf.register_opts(group_opts, group=group)
    conf([], default_config_files=[])
    names = {opt.name: [d.name for d in opt.deprecated_opts]
             for opt in groups()[None].values()}
    assert 'rpc_thread_pool_size' in names['executor_thread_pool_size']
    notify = {opt.name: [(d.group, d.name) for d in opt.deprecated_opts]
              for opt in groups()['oslo_messaging_notifications'].values()}
    assert ('DEFAULT', 'notification_driver') in notify['driver']
    assert ('DEFAULT', 'notification_transport_url') in notify['transport_url']


def test_list_opts_returns_copies():
    first = opts.list_opts()
    first[0][1][0].default = 'changed'
    assert groups()[None]['transport_url'].default == 'rabbit://'


@pytest.mark.skipif(importlib.util.find_spec(RABBIT_OPTIONS) is None,
                    reason='messaging/drivers/rabbit/options.py does not exist yet')
@pytest.mark.parametrize('name, default', [
    ('rabbit_ha_queues', False),
    ('rabbit_quorum_queue', False),
    ('heartbeat_timeout_threshold', 60),
    ('rpc_conn_pool_size', 30),
    ('rabbit_transient_queues_ttl', 1800),
    ('kombu_failover_strategy', 'round-robin'),
    ('ssl', False),
    ('amqp_durable_queues', False),
    ('amqp_auto_delete', False),
])
def test_rabbit_group_options(name, default):
    assert groups()['oslo_messaging_rabbit'][name].default == default


def test_config_generator_entry_point_names_list_opts():
    manager = extension.ExtensionManager('oslo.config.opts', invoke_on_load=False)
    assert manager['messaging'].plugin is opts.list_opts


def test_set_defaults_changes_the_executor_pool_default():
    conf = cfg.ConfigOpts()
    opts.set_defaults(conf, executor_thread_pool_size=7)
    assert conf.executor_thread_pool_size == 7
    opts.set_defaults(conf)
    assert conf.executor_thread_pool_size == 7
