"""The [oslo_messaging_metrics] and [oslo_messaging_tracing] options: oslo's
names, types and defaults, on whatever ConfigOpts the library is given."""
import pytest
from oslo_config import cfg

import messaging
from messaging import opts
from messaging.conffixture import ConfFixture

# As oslo.messaging 18.3.1 declares them.
OSLO_OPTIONS = {
    'oslo_messaging_metrics': {
        'metrics_enabled': (cfg.BoolOpt, False),
        'metrics_buffer_size': (cfg.IntOpt, 1000),
        'metrics_socket_file': (cfg.StrOpt, '/var/tmp/metrics_collector.sock'),
        'metrics_process_name': (cfg.StrOpt, ''),
        'metrics_thread_stop_timeout': (cfg.IntOpt, 10),
    },
    'oslo_messaging_tracing': {
        'tracing_enabled': (cfg.BoolOpt, False),
        'tracing_service_name': (cfg.StrOpt, 'openstack'),
        'otel_exporter_otlp_endpoint': (cfg.StrOpt, 'http://localhost:4318'),
        'otlp_protocol': (cfg.StrOpt, 'http/protobuf'),
        'insecure': (cfg.BoolOpt, False),
    },
}


@pytest.mark.parametrize('group', sorted(OSLO_OPTIONS))
def test_the_options_have_oslo_names_types_and_defaults(group):
    listed = {opt.name: opt for opt in dict(opts.list_opts())[group]}
    assert set(listed) == set(OSLO_OPTIONS[group])
    for name, (opt_type, default) in OSLO_OPTIONS[group].items():
        assert isinstance(listed[name], opt_type), name
        assert listed[name].default == default, name


def test_a_private_configopts_gets_them_from_the_transport(conf):
    messaging.get_rpc_transport(conf, 'fake://')
    assert conf.oslo_messaging_metrics.metrics_enabled is False
    assert conf.oslo_messaging_tracing.otlp_protocol == 'http/protobuf'


def test_conffixture_can_switch_metrics_and_tracing_on(conf):
    with ConfFixture(conf) as fixture:
        fixture.set_override('metrics_enabled', True, group='oslo_messaging_metrics')
        fixture.set_override('tracing_enabled', True, group='oslo_messaging_tracing')
        assert conf.oslo_messaging_metrics.metrics_enabled
        assert conf.oslo_messaging_tracing.tracing_enabled
    assert not conf.oslo_messaging_metrics.metrics_enabled


def test_an_unknown_otlp_protocol_is_refused(conf):
    messaging.get_rpc_transport(conf, 'fake://')
    with pytest.raises(ValueError):
        conf.set_override('otlp_protocol', 'carrier-pigeon', group='oslo_messaging_tracing')
