"""Rabbit options, URL query overrides, broker URLs, TLS and declarations."""
from __future__ import annotations

import ssl

import pytest
from oslo_config import cfg

from messaging.drivers.rabbit import driver as impl_rabbit
from messaging.drivers.rabbit import declarations, options
from messaging.transport_url import TransportURL


@pytest.fixture
def conf(conf):
    """The unit conftest's private ConfigOpts, with the rabbit options registered."""
    options.register_opts(conf)
    return conf


def view(conf, **query):
    return impl_rabbit.RabbitOptions(conf, {k: str(v) for k, v in query.items()})


def test_defaults_match_oslo_messaging(conf):
    group = conf.oslo_messaging_rabbit
    assert (group.rpc_conn_pool_size, group.conn_pool_min_size, group.conn_pool_ttl) == (
        30, 2, 1200)
    assert group.heartbeat_timeout_threshold == 60 and group.heartbeat_rate == 3
    assert group.kombu_missing_consumer_retry_timeout == 60
    assert group.rabbit_transient_queues_ttl == 1800
    assert group.rabbit_login_method == 'AMQPLAIN'
    assert group.direct_mandatory_flag is True
    assert options.GROUP == 'oslo_messaging_rabbit'


def test_query_values_override_with_the_option_type_without_touching_conf(conf):
    tuned = view(conf, rabbit_quorum_queue='true', kombu_reconnect_delay='0.5',
                 heartbeat_timeout_threshold='30')
    assert tuned.rabbit_quorum_queue is True
    assert tuned.kombu_reconnect_delay == 0.5
    assert tuned.heartbeat_timeout_threshold == 30
    assert tuned.rpc_conn_pool_size == 30
    assert conf.oslo_messaging_rabbit.rabbit_quorum_queue is False


def test_unknown_query_key_names_the_key_and_group_and_the_url(conf):
    with pytest.raises(cfg.NoSuchOptError, match=r'no such option bogus in group '
                                                 r'\[oslo_messaging_rabbit\]: the '
                                                 r'transport URL'):
        view(conf, bogus='1')


def test_every_rabbit_option_can_be_given_in_the_url(conf):
    for opt in options.rabbit_opts:
        value = opt.default if opt.default is not None else ''
        text = str(value).lower() if isinstance(value, bool) else str(value)
        assert getattr(view(conf, **{opt.dest: text}), opt.dest) == opt.type(text)


def test_bad_query_value_names_the_option(conf):
    with pytest.raises(ValueError, match='heartbeat_rate'):
        view(conf, heartbeat_rate='often')


def _url(conf, text):
    return TransportURL.parse(conf, text)


def test_broker_urls_one_per_host_with_quoted_credentials_and_vhost(conf):
    url = _url(conf, 'rabbit://u%40x:p%3Aw@h1,h2:5673,[::1]:5674/a%2Fb')
    assert impl_rabbit.broker_urls(url) == [
        'amqp://u%40x:p%3Aw@h1:5672/a%2Fb',
        'amqp://h2:5673/a%2Fb',
        'amqp://[::1]:5674/a%2Fb']


def test_no_host_means_guest_on_localhost_default_vhost(conf):
    assert impl_rabbit.broker_urls(_url(conf, 'rabbit://')) == [
        'amqp://guest:guest@localhost:5672/%2F']


def test_tls_settings_become_kombu_ssl_options(conf):
    assert impl_rabbit.ssl_options(view(conf), 'h') is False
    assert impl_rabbit.ssl_options(view(conf, ssl='true'), 'h') is True
    settings = impl_rabbit.ssl_options(view(conf, ssl='true', ssl_ca_file='/ca.pem',
                                            ssl_cert_file='/c.pem', ssl_key_file='/k.pem',
                                            ssl_version='TLSv1_2'), 'broker1')
    assert settings == {'ca_certs': '/ca.pem', 'certfile': '/c.pem', 'keyfile': '/k.pem',
                        'cert_reqs': ssl.CERT_REQUIRED, 'server_hostname': 'broker1',
                        'ssl_version': ssl.PROTOCOL_TLSv1_2}
    multi = impl_rabbit.ssl_options(view(conf, ssl='true', ssl_ca_file='/ca.pem'), None)
    assert 'server_hostname' not in multi


def test_unknown_tls_version_is_refused(conf):
    with pytest.raises(declarations.InvalidRabbitConfig, match='ssl_version'):
        impl_rabbit.ssl_options(view(conf, ssl='true', ssl_version='SSLv9'), 'h')


def test_default_declarations_match_the_wire_sheet(conf):
    decl = declarations.Declarations(view(conf))
    assert decl.topic_exchange('openstack') == declarations.ExchangeSpec(
        'openstack', 'topic', False, False)
    topic = decl.topic_queue('t', [('openstack', 't')])
    assert (topic.durable, topic.auto_delete, topic.arguments) == (False, False, {})
    assert topic.bindings == ((decl.topic_exchange('openstack'), 't'),)
    fanout = decl.fanout_queue('t', 'abc')
    assert fanout.name == 't_fanout_abc'
    assert fanout.arguments == {'x-expires': 1800000}
    assert fanout.bindings[0][0] == declarations.ExchangeSpec('t_fanout', 'fanout',
                                                              False, True)
    reply = decl.reply_queue('reply_x')
    assert (reply.durable, reply.auto_delete, reply.arguments, reply.bindings) == (
        False, False, {'x-expires': 1800000}, ())


def test_quorum_declarations_carry_type_limits_and_durability(conf):
    decl = declarations.Declarations(view(
        conf, rabbit_quorum_queue='true', rabbit_transient_quorum_queue='true',
        rabbit_quorum_delivery_limit=5, rabbit_quorum_max_memory_length=100,
        rabbit_quorum_max_memory_bytes=100000))
    quorum = {'x-queue-type': 'quorum', 'x-delivery-limit': 5,
              'x-max-in-memory-length': 100, 'x-max-in-memory-bytes': 100000}
    topic = decl.topic_queue('t', [('e', 't')])
    assert topic.durable and topic.arguments == quorum
    assert decl.topic_exchange('e').durable
    fanout = decl.fanout_queue('t', 'x')
    assert fanout.durable and fanout.arguments == dict(quorum, **{'x-expires': 1800000})
    assert decl.fanout_exchange('t').durable


def test_ha_queues_without_ttl_and_durable_auto_delete_variants(conf):
    decl = declarations.Declarations(view(conf, rabbit_ha_queues='true',
                                          rabbit_transient_queues_ttl=0))
    assert decl.topic_queue('t', [('e', 't')]).arguments == {'x-ha-policy': 'all'}
    assert decl.reply_queue('r').arguments == {'x-ha-policy': 'all'}
    decl = declarations.Declarations(view(conf, amqp_durable_queues='true',
                                          amqp_auto_delete='true'))
    topic = decl.topic_queue('t', [('e', 't')])
    assert topic.durable and topic.auto_delete
    assert not decl.fanout_queue('t', 'x').durable


@pytest.mark.parametrize('query, complaint', [
    (dict(rabbit_ha_queues='true', rabbit_quorum_queue='true'), 'rabbit_ha_queues'),
    (dict(rabbit_ha_queues='true', rabbit_transient_quorum_queue='true'),
     'set rabbit_ha_queues=false'),
    (dict(rabbit_quorum_queue='true', amqp_auto_delete='true'), 'amqp_auto_delete'),
    (dict(rabbit_stream_fanout='true', rabbit_qos_prefetch_count=1),
     'rabbit_stream_fanout needs rabbit_transient_quorum_queue=true'),
    (dict(rabbit_stream_fanout='true', rabbit_transient_quorum_queue='true'),
     'rabbit_qos_prefetch_count to be set to a value greater than 0'),
    (dict(rabbit_stream_fanout='true', rabbit_transient_quorum_queue='true',
          rabbit_qos_prefetch_count=-1), 'rabbit_qos_prefetch_count=1'),
])
def test_inconsistent_options_are_refused_with_a_clear_message(conf, query, complaint):
    with pytest.raises(declarations.InvalidRabbitConfig, match=complaint):
        declarations.validate(view(conf, **query))


KOLLA = dict(rabbit_quorum_queue='true', rabbit_transient_quorum_queue='true',
             rabbit_stream_fanout='true', use_queue_manager='true',
             rabbit_qos_prefetch_count=1)


def test_the_kolla_configuration_is_accepted(conf):
    declarations.validate(view(conf, **KOLLA))


def test_stream_fanout_declares_one_stream_per_topic_as_oslo(conf):
    decl = declarations.Declarations(view(conf, **KOLLA))
    stream = decl.new_fanout_queue('t')
    assert stream == decl.new_fanout_queue('t')
    assert (stream.name, stream.durable, stream.auto_delete, stream.arguments) == (
        't_fanout', True, False, {'x-queue-type': 'stream', 'x-max-age': '1800s'})
    assert stream.bindings == ((declarations.ExchangeSpec('t_fanout', 'fanout', True,
                                                          True), 't'),)
    assert declarations.is_stream(stream)
    assert not decl.fanout_queues_are_private
    no_ttl = declarations.Declarations(view(conf, rabbit_transient_queues_ttl=0, **KOLLA))
    assert no_ttl.new_fanout_queue('t').arguments == {'x-queue-type': 'stream'}


def test_transient_quorum_reply_queue_carries_limits_and_expiry(conf):
    decl = declarations.Declarations(view(conf, rabbit_quorum_delivery_limit=3, **KOLLA))
    reply = decl.new_reply_queue()
    assert reply.name.startswith('reply_') and reply.durable and not reply.auto_delete
    assert reply.arguments == {'x-queue-type': 'quorum', 'x-delivery-limit': 3,
                               'x-expires': 1800000}


@pytest.mark.parametrize('query', [dict(), dict(amqp_durable_queues='true'),
                                   dict(rabbit_quorum_queue='true')])
def test_reply_and_fanout_queues_are_private_and_transient_as_oslo_declares_them(conf,
                                                                                query):
    decl = declarations.Declarations(view(conf, **query))
    for queue in (decl.new_reply_queue(), decl.new_fanout_queue('t')):
        assert queue.private and not queue.durable and not queue.auto_delete
        assert queue.arguments == {'x-expires': 1800000}
    assert not decl.topic_queue('t', [('e', 't')]).private


class CountingNames:
    def __init__(self):
        self.count = 0

    def next_name(self):
        self.count += 1
        return 'host:proc:%d' % self.count


def test_queue_manager_names_reply_and_fanout_queues_which_are_kept(conf):
    decl = declarations.Declarations(view(conf, use_queue_manager='true'), CountingNames())
    assert decl.new_fanout_queue('t').name == 't_fanout_host:proc:1'
    assert decl.new_reply_queue().name == 'reply_host:proc:2'
    assert not decl.fanout_queues_are_private
    assert declarations.Declarations(view(conf)).fanout_queues_are_private


def test_consistent_options_are_accepted(conf):
    declarations.validate(view(conf, rabbit_quorum_queue='true',
                               rabbit_transient_quorum_queue='true'))


def test_cancel_on_failover_is_asked_for_classic_queues_only(conf):
    classic = declarations.Declarations(view(conf)).topic_queue('t', [('e', 't')])
    quorum = declarations.Declarations(view(conf, **KOLLA)).topic_queue('t', [('e', 't')])
    assert declarations.consumer_arguments(classic, True) == {'x-cancel-on-ha-failover': True}
    assert declarations.consumer_arguments(classic, False) is None
    assert declarations.consumer_arguments(quorum, True) is None
