"""The log, noop, test and routing notification drivers."""
from __future__ import annotations

import json
import logging
import pathlib

import pytest

import messaging
from messaging.notify import _impl_routing
from messaging.notify import _impl_test

SAMPLE = pathlib.Path(__file__).parents[2] / 'etc' / 'routing_notifier.yaml.sample'


@pytest.fixture
def transport(conf):
    transport = messaging.get_notification_transport(conf, 'fake://')
    yield transport
    transport.cleanup()


@pytest.mark.parametrize('method, level', [
    ('debug', logging.DEBUG), ('info', logging.INFO), ('warning', logging.WARNING),
    ('error', logging.ERROR), ('critical', logging.CRITICAL)])
def test_log_driver_logs_json_on_the_event_type_logger_at_the_priority_level(
        transport, caplog, method, level):
    notifier = messaging.Notifier(transport, 'pub', driver='log')
    with caplog.at_level(logging.DEBUG, logger='oslo.messaging.notification'):
        getattr(notifier, method)({}, 'compute.start', {'password': 'p4ss', 'a': 1})
    [record] = [r for r in caplog.records if r.name.startswith('oslo.messaging')]
    assert record.name == 'oslo.messaging.notification.compute.start'
    assert record.levelno == level
    logged = json.loads(record.getMessage())
    assert logged['event_type'] == 'compute.start'
    assert logged['payload']['a'] == 1
    assert logged['payload']['password'] == '***'


@pytest.mark.parametrize('method', ['audit', 'sample'])
def test_log_driver_warns_for_priorities_without_a_logging_level(transport, caplog, method):
    notifier = messaging.Notifier(transport, driver='log')
    with pytest.warns(UserWarning, match=method), \
            caplog.at_level(logging.DEBUG, logger='oslo.messaging.notification'):
        getattr(notifier, method)({}, 'ev', {})
    assert not [r for r in caplog.records if r.name.startswith('oslo.messaging')]


def test_test_driver_collects_and_reset_starts_a_new_list(transport, collected):
    notifier = messaging.Notifier(transport, 'pub', driver='test', retry=1)
    notifier.info({}, 'ev1', {'a': 1})
    notifier.error({}, 'ev2', {'b': 2})
    assert [(m['event_type'], p, r) for _c, m, p, r in collected] == [
        ('ev1', 'INFO', 1), ('ev2', 'ERROR', 1)]
    _impl_test.reset()
    assert _impl_test.NOTIFICATIONS == [] and len(collected) == 2


def test_noop_driver_alone_disables_the_notifier_and_sends_nothing(transport):
    notifier = messaging.Notifier(transport, driver='noop')
    assert not notifier.is_enabled()
    assert notifier._notify({}, 'ev', {}, 'INFO') is True


def _routing_notifier(conf, transport, path):
    conf.set_override('routing_config', str(path), group='oslo_messaging_notifications')
    return messaging.Notifier(transport, driver='routing')


@pytest.mark.parametrize('event_type, priority, drivers', [
    ('compute.instance.exists', 'info', ['log', 'messagingv2']),
    ('compute.instance.exists', 'warn', ['messagingv2']),
    ('compute.instance.create.end', 'error', ['log', 'messagingv2']),
    ('compute.instance.delete.end', 'info', ['log']),
    ('compute.instance.delete.end', 'debug', []),
    ('network.port.create', 'critical', ['log']),
    ('network.port.create', 'info', []),
])
def test_routing_driver_selects_drivers_from_the_sample_file(
        conf, transport, event_type, priority, drivers):
    notifier = _routing_notifier(conf, transport, SAMPLE)
    [routing] = [ext.obj for ext in notifier._drivers]
    assert routing.drivers_for(event_type, priority.upper()) == drivers


def test_routing_driver_sends_to_selected_drivers_only(conf, transport, collected, tmp_path):
    path = tmp_path / 'routing.yaml'
    path.write_text('g1:\n  test:\n    accepted_events: [compute.*]\n'
                    '    accepted_priorities: [INFO]\n'
                    'g2:\n  test:\n    accepted_events: [image.*]\n')
    notifier = _routing_notifier(conf, transport, path)
    notifier.info({}, 'compute.start', {})
    notifier.error({}, 'compute.start', {})
    notifier.error({}, 'image.upload', {})
    notifier.info({}, 'volume.attach', {})
    assert [(m['event_type'], p) for _c, m, p, _r in collected] == [
        ('compute.start', 'INFO'), ('image.upload', 'ERROR')]


@pytest.mark.parametrize('content, problem', [
    ('g1: [unclosed', 'not valid YAML'),
    ('- a\n- b\n', 'must map group names'),
    ('g1: log\n', "group 'g1' must map driver names"),
    ('g1:\n  log:\n    accepted_event: [x]\n', "unknown rule 'accepted_event'"),
    ('g1:\n  log:\n    accepted_events: compute.*\n', 'must be a list of strings'),
])
def test_malformed_routing_file_is_an_error_naming_the_file(tmp_path, content, problem):
    path = tmp_path / 'routing.yaml'
    path.write_text(content)
    with pytest.raises(_impl_routing.RoutingConfigError) as info:
        _impl_routing.load_routing_config(str(path))
    assert str(path) in str(info.value)
    assert problem in str(info.value)


def test_missing_routing_file_is_logged_naming_it_and_disables_the_driver(
        conf, transport, tmp_path, caplog):
    path = tmp_path / 'absent.yaml'
    with caplog.at_level(logging.ERROR, logger='messaging.notify.notifier'):
        notifier = _routing_notifier(conf, transport, path)
    assert not notifier._drivers
    assert str(path) in caplog.text and 'cannot be read' in caplog.text


def test_routing_without_a_file_sends_nothing(conf, transport, collected, caplog):
    with caplog.at_level(logging.WARNING, logger='messaging.notify._impl_routing'):
        notifier = messaging.Notifier(transport, driver='routing')
    notifier.info({}, 'ev', {})
    assert collected == []
    assert 'routing_config is not set' in caplog.text
